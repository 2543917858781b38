"""newsarchive's own signals (sent with ``crawler.signals.send_catch_log``)."""

# New article URLs were registered (arguments: ``outlet``, ``count``): pages to extract
# will follow, so the extraction workers may start now rather than with the first page.
articles_discovered = object()
