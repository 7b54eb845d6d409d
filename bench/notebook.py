"""Numbers written in a notebook and photographed: composed numbers of held-out writers on ruled
and squared pages with a margin, a red line down the sheet left of the writing, printed as dark as
a pen writes (``paper.NOTEBOOKS``), read as ``POST /api/read`` reads them, with the margin taken
for the sheet's (``rules.margins``, step 1a) and without, in the same run; the same pages without
a margin (``ruled-photo``, ``squared-photo``) beside them.

    .venv/bin/python bench/notebook.py --split val            # choose here (validation writers)
    .venv/bin/python bench/notebook.py --split test           # report here
    .venv/bin/python bench/notebook.py --n 20 --schemes notebook-ruled   # a quick look

"Without" is the same reader with ``rules.MARGIN_DARK`` set past any share of the height. Digit strings and
strings with separators (the writers who wrote some) are counted apart. Prints a table (exact
whole-string accuracy per scheme, kind and layout) and one JSON line.
"""

from __future__ import annotations

from pencil import without_and_with  # (bench/: the script's own folder)

from digitpad import rules

if __name__ == "__main__":
    without_and_with(__doc__, "ruled-photo,squared-photo,notebook-ruled,notebook-squared", rules, "MARGIN_DARK",
                     "a notebook's margin taken for the sheet's")
