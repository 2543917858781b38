"""newsarchive's test suite, and the development helpers that live with it: the generated
demo outlets (:mod:`tests.demosite`, ``make demo`` = ``python -m tests.demo``), the hostile
test server and the benchmarks (:mod:`tests.bench`). Not part of the installed product."""
