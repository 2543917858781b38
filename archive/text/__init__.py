"""Step 2 of the archive's data path (response -> WARC -> text -> versioned file + catalog
-> reading tools): where a page's text is decided. A fetched body is decoded to ``str``
(:mod:`.encoding`), its article body found (:mod:`.extract`, with the block filters of
:mod:`.boilerplate`) and its metadata read (:mod:`.metadata`); :mod:`.job` is that whole
step as one picklable call per page, and :mod:`.pool` the worker processes that run it.
The worker processes import this package, so it stays free of the catalog and SQLAlchemy
(it uses only the text files' format, :mod:`archive.store.textfile`).
"""
