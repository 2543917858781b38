"""Step 3 of the archive's data path (response -> WARC -> text -> versioned file + catalog
-> reading tools): a page's text is kept as a versioned text file, whose bytes and
``NNN_<hash>.txt`` name are defined in :mod:`.textfile`, and recorded in the SQLite catalog
(:mod:`.catalog`) by :mod:`.textstore`, atomically; around them the manifest
(:mod:`.manifest`), the archive lock (:mod:`.lock`), the re-check policy (:mod:`.recheck`),
URL canonicalisation (:mod:`.urls`) and the archive's one time format (:mod:`.timefmt`).
Submodules are imported on demand only: the extraction workers import :mod:`.textfile`
and must not load the catalog.
"""
