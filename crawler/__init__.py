"""Scrapy project: spiders, pipelines and the offline mirror that harvest into the catalog."""
