"""Scrapy settings of the newsarchive crawler.

Every newsarchive setting can be given on the command line (``-s NAME=value``) or in
the environment as ``NEWSARCHIVE_<NAME>`` (see README.md for the full list).
"""
import os

BOT_NAME = "newsarchive"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"
COMMANDS_MODULE = "crawler.commands"

_HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _env(name: str, default):
    return os.environ.get(f"NEWSARCHIVE_{name}", default)


# -- what to crawl and where the archive goes ------------------------------------------
OUTLETS_FILE = _env("OUTLETS_FILE", os.path.join(_HERE, "outlets.toml"))
ARCHIVE_DIR = _env("ARCHIVE_DIR", os.path.join(_HERE, "data", "archive"))
CATALOG_URL = _env("CATALOG_URL", "")          # default: sqlite:///<ARCHIVE_DIR>/catalog.sqlite
RECHECK = _env("RECHECK", "due")               # due | all | none
DISCOVERY = True                               # read feeds, sitemaps, sections (off: re-checks only)
FOLLOW_ARTICLE_LINKS = True                    # follow links between articles (depth 1)
LOCK_WAIT = 0                                  # seconds to wait for another run's lock
CLAIM_LEASE = 120                              # shared catalog: seconds a dead worker's claims last

# -- archive output --------------------------------------------------------------------
WARC_PREFIX = "NEWSARCHIVE"
WARC_MAX_SIZE = 1_000_000_000
WARC_GZIP_LEVEL = 3                            # higher levels save little space for much more CPU
WARC_OPERATOR = _env("WARC_OPERATOR", "")
WARC_FSYNC = False
INDEX_ENABLED = True                           # keep indexes/index.cdxj (for pywb) up to date
TEXT_FSYNC = False
EXTRACT_WORKERS = int(_env("EXTRACT_WORKERS", os.cpu_count() or 1))
PROGRESS_INTERVAL = 30

# -- politeness ------------------------------------------------------------------------
USER_AGENT = ("newsarchive/0.1 (research news archive; +https://github.com/newsarchive/newsarchive; "
              "respects robots.txt)")
ROBOTSTXT_OBEY = True
DOWNLOADER = "crawler.scrapy_compat.PoliteDownloader"  # per-origin limits enforced under asyncio
CONCURRENT_REQUESTS = 32
CONCURRENT_REQUESTS_PER_DOMAIN = 4             # per origin: the spider sets download_slot
DOWNLOAD_DELAY = 0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.5
AUTOTHROTTLE_MAX_DELAY = 30
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
DOWNLOAD_TIMEOUT = 30
# Items handled in parallel per response (ours yield at most one). Scrapy starts this many
# asyncio tasks for every response it scrapes: its default of 100 costs CPU on every page.
CONCURRENT_ITEMS = 4
DOWNLOAD_MAXSIZE = 20 * 1024 * 1024
DOWNLOAD_WARNSIZE = 5 * 1024 * 1024
RETRY_TIMES = 2
REDIRECT_MAX_TIMES = 10
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False                 # no listening ports on a crawler

DOWNLOADER_MIDDLEWARES = {
    "crawler.middlewares.WarcCaptureMiddleware": 950,
    # article bodies stay compressed for the extraction workers (Scrapy's priority)
    "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware": None,
    "crawler.middlewares.KeepEncodedBodyMiddleware": 590,
    # same order and settings as Scrapy's MetaRefreshMiddleware, without decoding every page
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "crawler.middlewares.LazyMetaRefreshMiddleware": 580,
    # Scrapy 2.19 lets all but the first request waiting for a site's robots.txt through
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.middlewares.WaitingRobotsTxtMiddleware": 100,
}
SPIDER_MIDDLEWARES = {
    # its only use is DEPTH_LIMIT (section pagination has its own bound) and depth stats
    "scrapy.spidermiddlewares.depth.DepthMiddleware": None,
}
ITEM_PIPELINES = {
    "crawler.pipelines.ArchivePipeline": 300,
}
EXTENSIONS = {
    "crawler.extensions.CrawlSummary": 500,
    "crawler.extensions.QuietNetworkErrors": 0,
    "crawler.indexing.IndexWarcs": 600,        # indexes/index.cdxj for pywb (INDEX_ENABLED)
    "crawler.grouping.SyndicationGrouping": 610,  # syndication groups (SYNDICATION_GROUPS)
}
SYNDICATION_GROUPS = True                      # group copies of a story across outlets after each crawl

LOG_LEVEL = _env("LOG_LEVEL", "INFO")
LOG_FORMAT = "%(asctime)s [%(name)s] %(levelname)s: %(message)s"
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
FEED_EXPORT_ENCODING = "utf-8"
