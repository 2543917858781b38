"""Step 1 of the archive's data path (response -> WARC -> text -> versioned file + catalog
-> reading tools): every HTTP exchange is written to WARC files as it was received
(:mod:`.writer`, with rotation and crash repair), read back record by record
(:mod:`.reader`), and its Content-Encoding undone the way Scrapy undoes it
(:mod:`.contentcoding`). Nothing here imports the later steps.
"""
