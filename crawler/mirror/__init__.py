"""The offline mirror: a deterministic stand-in for the ImageNet API, image hosts and web pages."""
