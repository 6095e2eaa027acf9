"""The offline mirror: a deterministic stand-in for the ImageNet text API, image hosts and web pages."""
