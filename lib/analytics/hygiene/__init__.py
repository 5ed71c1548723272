"""Contact-list hygiene: an uploaded CSV or XLSX becomes clean rows, duplicates (with what each matches) and
rejected rows (with the rule, in plain words), every input row in exactly one of the three.

* ``read``: the file into string columns with each row's original row number (encoding and delimiter
  detected; a file that is not a table is refused in one sentence);
* ``rules``: each rule a function over Arrow columns (spaces, phones via ``phonenumbers``, e-mails, INN via
  ``python-stdnum``), and the column mapping suggested from the header;
* ``dedup``: duplicates inside the file and against what is stored (CRM contacts and companies, lists saved
  before), each with its match and when that was first seen;
* ``clean``: the pipeline over chunks, with progress and Stop;
* ``lists``: accepted rows saved as a keyed list through ``ledger.py`` (saving twice stores one copy).
"""
