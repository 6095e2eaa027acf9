"""Keras 3 variational autoencoders trained on a synthset export."""
