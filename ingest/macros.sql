-- Helpers for parse.sql, created as temporary macros on the connection that parses.

-- The last header with this name (Kafka allows repeats; the last one wins, as in the clients).
CREATE OR REPLACE TEMP MACRO dlq_header_raw(hs, name) AS
    list_filter(hs, lambda h: h."key" = name)[-1]."value";

-- A header as text: UTF-8 when it is, else its bytes spelled \xNN.
CREATE OR REPLACE TEMP MACRO dlq_bytes_text(b) AS
    coalesce(try(decode(b)), CAST(b AS VARCHAR));
CREATE OR REPLACE TEMP MACRO dlq_header_text(hs, name) AS
    dlq_bytes_text(dlq_header_raw(hs, name));

-- A header as an integer: decimal text (Connect, Karafka) or a 4- or 8-byte big-endian
-- binary integer (Spring Kafka's original partition and offset).
CREATE OR REPLACE TEMP MACRO dlq_bytes_int(b) AS
    CASE
        WHEN regexp_full_match(coalesce(try(decode(b)), ''), '-?[0-9]{1,19}')
            THEN try_cast(decode(b) AS BIGINT)
        WHEN octet_length(b) IN (4, 8)
            THEN try_cast('0x' || hex(b) AS BIGINT)
    END;

-- Why these macros are shaped as they are (they run for every record):
-- * No costly expression inside nullif() or written twice: DuckDB computes a repeated
--   expression once, ahead, for every row, even where CASE or coalesce would have skipped it.
--   A pattern's capture group is never empty, so `regexp_matches` tells a match apart.
-- * A capture through an optional group (the userinfo below) makes RE2 take its slow
--   matcher; the usual shape of URL is matched without one first.

-- The lower-cased host of a URL with a scheme, or NULL when it has none. Internationalised
-- names are kept as written (lower-cased), not converted to punycode.
CREATE OR REPLACE TEMP MACRO dlq_url_host(u) AS
    coalesce(
        -- scheme://host[:port] then a path, query, fragment or the end: no userinfo.
        nullif(lower(regexp_extract(u,
            '^[A-Za-z][A-Za-z0-9+.-]*://([A-Za-z0-9.-]+)(?::[0-9]*)?(?:[/?#]|$)', 1)), ''),
        CASE WHEN regexp_matches(u,
                '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#\s]*@)?(?:\[[^\]]*\]|[^:/?#\s]+)')
             THEN lower(regexp_extract(u,
                '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#\s]*@)?(\[[^\]]*\]|[^:/?#\s]+)', 1))
        END);

-- The file extension of a URL's path (".../x.pdf?sig=..." -> "pdf").
CREATE OR REPLACE TEMP MACRO dlq_url_extension(u) AS
    CASE WHEN regexp_matches(u, '^[^?#]*/[^/?#]*\.[A-Za-z0-9]{1,10}(?:[?#]|$)')
         THEN lower(regexp_extract(u, '^[^?#]*/[^/?#]*\.([A-Za-z0-9]{1,10})(?:[?#]|$)', 1))
    END;

-- Error text reduced to its shape, so that "Connection timeout after 30s" and "after 45s"
-- group together. Variable parts become placeholders: <url>, <time>, <id>, <path>, <n>;
-- a credential outside a URL (name=value, URL-encoded once or more) becomes <secret>.
-- HTTP status codes are kept ("HTTP 404", "(410)", "503 Service Unavailable"): they are
-- what tells an expired URL from an outage. § marks a kept number until the last step.
-- The steps after the URLs, credentials and timestamps (SIGNATURE_STEPS in ingest/parse.py
-- runs those first, each only on texts with a character it needs): `m` is `msg` after them.
CREATE OR REPLACE TEMP MACRO dlq_error_signature_rest(msg, m) AS
    CASE WHEN msg IS NULL OR trim(msg) = '' THEN NULL ELSE
    left(trim(regexp_replace(replace(
        regexp_replace(                                                    -- numbers
        regexp_replace(                                                    -- ids
        regexp_replace(                                                    -- status codes
        regexp_replace(                                                    -- paths
        regexp_replace(m,                                                  -- hex ids, uuids
            '\b[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\b|\b[0-9a-fA-F]{8,}\b', '<id>', 'g'),
            '(^|[\s(\[''"=:,])(?:/[\w.~%@+-]+)+/?|\b[A-Za-z]:\\[^\s"'']+|\b[\w.-]+(?:/[\w.~%-]+){2,}',
            '\1<path>', 'g'),
            '(HTTP(?:/[0-9.]+)?:?\s*|[Ss]tatus(?: code)?:?\s*|[Cc]ode:?\s*|\()([1-5][0-9]{2})\b|\b([1-5][0-9]{2})( [A-Z][a-z])',
            '\1§\2\3\4', 'g'),
            '\b[A-Za-z][A-Za-z_-]*[0-9][\w-]*', '<id>', 'g'),
            '(^|[^§\w])[0-9]+(?:[.,][0-9]+)*', '\1<n>', 'g'),
        '§', ''), '\s+', ' ', 'g')), 300)
    END;
