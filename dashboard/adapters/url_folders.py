"""Each record's URL folder (`records.url_folder`), for grouping URLs in reports: computed
once per record, by the ingest as it inserts the batch (ingest.store.KEPT_AT_INSERT,
vectorised) and by migration 0007 for the records stored before, instead of by every report
over every record.

Every record's URL is unique (its file name, often a claim or attachment id in the path), so
the folder is the URL's scheme, host and path without the query, the fragment and the file
name, with each path segment of four or more characters holding a digit shown as {id} ("v2"
or "api" stay). A value without a scheme is '(not a URL)'; no URL, NULL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:  # db imports the migrations, which import this module
    from dashboard.adapters.db import Connection

# A whole path segment (after its '/') of >= 4 characters holding a digit: the digit with at
# least 3, 2, 1 or 0 characters after it and enough before. Every alternative ends in a
# greedy run of non-slashes, so a match never stops inside a segment, and one regular
# expression over the folder replaces them all (a split into segments costs about twice as
# much for every record).
_ID_SEGMENT: Final = (
    r"/(?:[^/]*[0-9][^/]{3,}|[^/]+[0-9][^/]{2,}|[^/]{2,}[0-9][^/]+|[^/]{3,}[0-9][^/]*)"
)

# Temporary macros: `dlq_url_folder(u)`, the folder of URL `u`. Each step is a macro of its
# own, so the URL without its query and fragment, its origin and its path are each written
# once (see ingest/macros.sql on repeated expressions).
URL_FOLDER_MACROS: Final = f"""
CREATE OR REPLACE TEMP MACRO dlq_url_folder_of(url, o, path) AS
    CASE WHEN o = '' THEN '(not a URL)' ELSE o || regexp_replace(
        left(path, length(path) - strpos(reverse(path), '/') + 1),
        '{_ID_SEGMENT}', '/{{id}}', 'g') END;
CREATE OR REPLACE TEMP MACRO dlq_url_folder_split(url, o) AS
    dlq_url_folder_of(url, o, substr(url, length(o) + 1));
CREATE OR REPLACE TEMP MACRO dlq_url_folder_bare(url) AS
    dlq_url_folder_split(url, regexp_extract(url, '^[^:/?#]+://[^/?#]*'));
CREATE OR REPLACE TEMP MACRO dlq_url_folder(u) AS
    dlq_url_folder_bare(split_part(split_part(u, '?', 1), '#', 1));
"""


def install(con: Connection) -> None:
    """Create the macros on `con` (temporary: for this connection only)."""
    con.execute(URL_FOLDER_MACROS)
