"""The project's Scrapy commands (setting COMMANDS_MODULE): ``crawl`` with one-line errors."""
