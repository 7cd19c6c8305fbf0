-- Turns raw Kafka records into `records` rows (minus the ingest bookkeeping columns).
--
-- Input: a relation named `dlq_input` (ingest.parse.PreparedSelect) with the columns of
-- ingest.parse.STAGED_SCHEMA (the value's bytes also as text, NULL where they are not UTF-8),
-- `staged_row`, each row's position in it, `dlq_format`, the shape its DLQ's settings give (see
-- dashboard.settings.DLQ_FORMATS; dlq-other-formats.md), and `future_from`, the moment after
-- which a failed_at is in the future (the parse's moment plus a tolerance, given from
-- Python: now() here would have DuckDB bind the query anew on every run, as would
-- TIMESTAMPTZ arithmetic). Output: one row per staged row, in that order
-- (every step is a projection, which keeps its input's order; `staged_row` comes out last,
-- to be checked), with the raw key, headers and value left NULL: they pass around the parse
-- untouched and are put back by position (ingest.parse.with_raw_columns), so no copy of
-- them is made here. The error signature is left NULL too: ingest.parse computes it once
-- per distinct error text (a join here would cost a sort to get the order back).
-- The parse runs inside DuckDB, vectorised over a whole batch. Each value is parsed as JSON
-- once (one json_extract_string over all the paths needed).
--
-- Cost: it runs for every record, so every expression counts. DuckDB computes an
-- expression written twice (nullif(x, '') writes x twice) once, ahead, for every row, even
-- inside a CASE or coalesce that would have skipped it; so a costly lookup that only some
-- rows need is written once, inside its CASE (see `fallbacks`), and the macros avoid the
-- pattern (macros.sql).
--
-- Nothing here may fail on bad bytes: casts are try_casts and parsers are wrapped in try(),
-- so a record that cannot be read still yields a row, carrying its parse_error.
WITH decoded AS (
    SELECT
        *,
        "text" AS text_value,                         -- NULL: tombstone or not UTF-8
        coalesce(try(decode("key")), CAST("key" AS VARCHAR)) AS key_text,
        list_transform(headers, lambda h: h."key") AS header_keys
    FROM dlq_input
),
first_chars AS (
    SELECT
        *,
        -- ltrim copies the whole value: only when it does not start with the character.
        CASE WHEN left(text_value, 1) IN ('{', '[') THEN left(text_value, 1)
             ELSE left(ltrim(text_value), 1) END AS first_char
    FROM decoded
),
extracted AS (
    SELECT
        *,
        -- Not '$.original_task' itself: extracting an object re-serialises it (a kilobyte of
        -- text per record). Its fields say it is there; see `tasked` below for the rest.
        CASE WHEN first_char = '{' THEN try(json_extract_string(text_value, [
            '$.trace_id', '$.attachment_url', '$.retry_count', '$.error_category',   -- 1-4
            '$.final_error', '$.failed_at',                                          -- 5-6
            '$.original_task.event_type', '$.original_task.event_subtype',           -- 7-8
            '$.original_task.file_type', '$.original_task.assignment_id',            -- 9-10
            '$.original_task.metadata.last_error',                                   -- 11
            '$.original_task.metadata.error_category',                               -- 12
            '$.original_task.attachment_url', '$.original_task.trace_id'             -- 13-14
        ])) END AS j,
        -- The other shapes' own fields: looked up only on their DLQs' records, so the xact
        -- DLQ's parse costs what it did.
        CASE WHEN first_char = '{' AND dlq_format IN ('claimx-download', 'claimx-enrichment',
            'envelope') THEN try(json_extract_string(text_value, [
            '$.media_id', '$.project_id', '$.download_url',                          -- 1-3
            '$.original_topic', '$.original_partition', '$.original_offset',         -- 4-6
            '$.error_type', '$.error_message', '$.consumer_group',                   -- 7-9
            '$.worker_name', '$.worker_id', '$.dlq_timestamp',                       -- 10-12
            '$.event_type', '$.original_key', '$.original_task.media_id'             -- 13-15
        ])) END AS k
    FROM first_chars
),
tasked AS (
    SELECT
        *,
        -- The first character of original_task, NULL when it is missing. When any of its
        -- fields was found it is an object; only otherwise is it extracted on its own.
        CASE WHEN coalesce(j[7], j[8], j[9], j[10], j[11], j[12], j[13], j[14]) IS NOT NULL
             THEN '{'
             WHEN j IS NOT NULL
             THEN left(try(json_extract_string(text_value, '$.original_task')), 1)
        END AS task_first_char
    FROM extracted
),
fields AS (
    SELECT
        *,
        nullif(trim(j[1]), '') AS v_trace_id,
        nullif(trim(CASE dlq_format WHEN 'claimx-download' THEN k[3] ELSE j[2] END), '')
            AS v_url,
        -- try_cast twice: a count past INTEGER's range is unreadable, not a failed batch.
        try_cast(try_cast(trim(j[3]) AS UINTEGER) AS INTEGER) AS v_retry_count,
        nullif(lower(trim(j[4])), '') AS v_category,
        nullif(trim(CASE dlq_format WHEN 'envelope' THEN k[8] ELSE j[5] END), '')
            AS v_final_error,
        -- The envelope says when in epoch seconds (a float), the others in ISO 8601.
        CASE WHEN dlq_format = 'envelope'
             THEN try(to_timestamp(try_cast(trim(k[12]) AS DOUBLE)))
             ELSE try_cast(trim(j[6]) AS TIMESTAMPTZ) END AS v_failed_at,
        CASE WHEN dlq_format = 'envelope' THEN false
             WHEN right(trim(j[6]), 1) NOT IN ('Z', 'z')
             THEN NOT regexp_matches(trim(j[6]), '[+-][0-9]{2}(:?[0-9]{2})?$') END AS v_failed_at_naive,
        task_first_char = '{' AS task_is_object,
        CASE
            WHEN j[1] IS NOT NULL OR j[2] IS NOT NULL OR task_first_char IS NOT NULL THEN 'pipeline'
            WHEN k IS NOT NULL THEN 'pipeline'  -- a JSON object on a DLQ of a pipeline shape
            WHEN list_bool_or(list_transform(header_keys,
                lambda k: starts_with(k, '__connect.errors.'))) THEN 'kafka-connect'
            WHEN list_bool_or(list_transform(header_keys,
                lambda k: starts_with(k, 'kafka_dlt-'))) THEN 'spring-kafka'
            WHEN list_bool_or(list_transform(header_keys,
                lambda k: starts_with(k, '__streams.errors.'))) THEN 'kafka-streams'
            WHEN list_contains(header_keys, 'source_topic')
                AND list_contains(header_keys, 'source_offset') THEN 'karafka'
            ELSE 'unknown'
        END AS record_format
    FROM tasked
),
foreign_context AS (
    -- Error context that other producers' DLQs carry in headers instead of the value. Each
    -- convention's five headers are looked up in one pass (topic, partition, offset,
    -- exception, message); NULL names (Karafka has no exception headers) match nothing.
    SELECT
        *,
        -- NULL (no lookup at all) for the pipeline's own records and unknown ones.
        list_transform(CASE record_format
            WHEN 'kafka-connect' THEN ['__connect.errors.topic', '__connect.errors.partition',
                '__connect.errors.offset', '__connect.errors.exception.class.name',
                '__connect.errors.exception.message']
            WHEN 'spring-kafka' THEN ['kafka_dlt-original-topic', 'kafka_dlt-original-partition',
                'kafka_dlt-original-offset', 'kafka_dlt-exception-fqcn',
                'kafka_dlt-exception-message']
            WHEN 'kafka-streams' THEN ['__streams.errors.topic', '__streams.errors.partition',
                '__streams.errors.offset', '__streams.errors.exception',
                '__streams.errors.message']
            WHEN 'karafka' THEN ['source_topic', 'source_partition', 'source_offset',
                NULL, NULL]
        END, lambda name: dlq_header_raw(headers, name)) AS fh
    FROM fields
),
foreign_fields AS (
    SELECT
        *,
        CASE WHEN fh IS NOT NULL THEN {
            topic: dlq_bytes_text(fh[1]),
            part: dlq_bytes_int(fh[2]),
            off: dlq_bytes_int(fh[3]),
            exc: dlq_bytes_text(fh[4]),
            msg: dlq_bytes_text(fh[5])}
            -- The envelope names where its message was read in its value.
            WHEN dlq_format = 'envelope' AND k IS NOT NULL THEN {
            topic: nullif(k[4], ''),
            part: try_cast(trim(k[5]) AS BIGINT),
            off: try_cast(trim(k[6]) AS BIGINT),
            exc: nullif(trim(k[7]), ''),
            msg: NULL} END AS fc
    FROM foreign_context
),
fallbacks AS (
    -- Where a field is not in the value: the task's copy, the key, the headers. Each is
    -- looked up only for the rows that need it, and written once (a repeated expression
    -- would be computed ahead for every row).
    SELECT
        *,
        CASE WHEN v_trace_id IS NULL THEN trim(j[14]) END AS task_trace_id,
        CASE WHEN v_url IS NULL THEN trim(j[13]) END AS task_url,
        CASE WHEN v_retry_count IS NULL THEN dlq_header_text(headers, 'retry_count') END
            AS header_retry_count,
        CASE WHEN v_category IS NULL
             THEN lower(trim(dlq_header_text(headers, 'error_category'))) END AS header_category,
        CASE WHEN v_category IS NULL THEN lower(trim(j[12])) END AS task_category
    FROM foreign_fields
),
resolved AS (
    SELECT
        *,
        -- An envelope without a key is keyed dlq-<offset>: no trace id to show.
        CASE WHEN dlq_format = 'envelope' THEN coalesce(v_trace_id, nullif(trim(k[14]), ''))
             ELSE coalesce(v_trace_id, nullif(task_trace_id, ''), key_text) END AS r_trace_id,
        coalesce(v_url, nullif(task_url, '')) AS r_url,
        coalesce(v_retry_count, try_cast(try_cast(header_retry_count AS UINTEGER) AS INTEGER))
            AS r_retry_count,
        coalesce(v_category, nullif(header_category, ''), nullif(task_category, ''))
            AS r_category,
        CASE
            WHEN v_final_error IS NOT NULL AND dlq_format = 'envelope' THEN 'error_message'
            WHEN v_final_error IS NOT NULL THEN 'final_error'
            WHEN nullif(trim(j[11]), '') IS NOT NULL THEN 'original_task.metadata.last_error'
            WHEN nullif(trim(fc.msg), '') IS NOT NULL THEN 'headers'
        END AS r_error_source
    FROM fallbacks
),
judged AS (
    SELECT
        *,
        CASE r_error_source
            WHEN 'final_error' THEN v_final_error
            WHEN 'error_message' THEN v_final_error
            WHEN 'original_task.metadata.last_error' THEN trim(j[11])
            WHEN 'headers' THEN trim(fc.msg)
        END AS r_error_message,
        CASE
            WHEN "value" IS NULL THEN 'tombstone: the record has no value'
            WHEN octet_length("value") = 0 THEN 'empty value'
            WHEN record_format NOT IN ('pipeline', 'unknown') THEN NULL
            WHEN text_value IS NULL THEN 'value is not valid UTF-8'
            WHEN first_char = '[' THEN 'value is a JSON array, not an object'
            WHEN first_char <> '{' OR first_char IS NULL THEN 'value is not a JSON object'
            WHEN j IS NULL THEN 'value is not valid JSON'
            WHEN dlq_format = 'envelope' THEN nullif(concat_ws('; ',
                CASE WHEN nullif(trim(k[4]), '') IS NULL THEN 'missing or empty original_topic' END,
                CASE WHEN fc.part IS NULL THEN 'original_partition is not an integer' END,
                CASE WHEN fc.off IS NULL THEN 'original_offset is not an integer' END,
                CASE WHEN k[12] IS NULL THEN 'missing dlq_timestamp'
                     WHEN v_failed_at IS NULL THEN 'dlq_timestamp is not epoch seconds' END
            ), '')
            ELSE nullif(concat_ws('; ',
                CASE WHEN v_trace_id IS NULL THEN 'missing or empty trace_id' END,
                -- The fields of each task shape's own (the rest they share).
                CASE dlq_format
                    WHEN 'claimx-download' THEN nullif(concat_ws('; ',
                        CASE WHEN nullif(trim(k[1]), '') IS NULL
                             THEN 'missing or empty media_id' END,
                        CASE WHEN nullif(trim(k[2]), '') IS NULL
                             THEN 'missing or empty project_id' END,
                        CASE WHEN v_url IS NULL THEN 'missing or empty download_url' END), '')
                    WHEN 'claimx-enrichment' THEN nullif(concat_ws('; ',
                        CASE WHEN nullif(trim(k[13]), '') IS NULL
                             THEN 'missing or empty event_type' END,
                        CASE WHEN nullif(trim(k[2]), '') IS NULL
                             THEN 'missing or empty project_id' END), '')
                    ELSE CASE WHEN v_url IS NULL THEN 'missing or empty attachment_url' END
                END,
                CASE WHEN j[3] IS NULL THEN 'missing retry_count'
                     WHEN v_retry_count IS NULL
                        THEN 'retry_count is not a non-negative integer' END,
                CASE WHEN v_category IS NULL THEN 'missing or empty error_category' END,
                CASE WHEN j[6] IS NULL THEN 'missing failed_at'
                     WHEN v_failed_at IS NULL THEN 'failed_at is not an ISO-8601 datetime' END,
                CASE WHEN task_first_char IS NULL THEN 'missing original_task'
                     WHEN NOT task_is_object THEN 'original_task is not an object' END
            ), '')
        END AS r_parse_error,
        dlq_url_host(r_url) AS r_domain
    FROM resolved
)
-- The rows, in `dlq_input` order (a projection keeps its input's order).
SELECT
    topic,
    "partition",
    "offset",
    make_timestamptz(timestamp_ms * 1000) AS kafka_timestamp,
    CASE timestamp_type WHEN 1 THEN 'create' WHEN 2 THEN 'log_append' END AS timestamp_type,
    NULL::BLOB AS "key",
    NULL::STRUCT("key" VARCHAR, "value" BLOB)[] AS headers,
    NULL::BLOB AS "value",
    octet_length("value")::INTEGER AS value_size,
    -- Kept for records that did not parse (their value is not readable as it is): bounded,
    -- and printable: control characters (a terminal escape, say) become U+FFFD.
    CASE WHEN r_parse_error IS NOT NULL THEN regexp_replace(CASE
        WHEN "value" IS NULL THEN NULL
        WHEN text_value IS NOT NULL THEN left(text_value, 2000)
        -- BLOB -> VARCHAR spells non-UTF-8 bytes as \xNN.
        ELSE left(CAST("value"[1:1000] AS VARCHAR), 4000)
    END, '[\x00-\x08\x0B-\x1F\x7F]', '�', 'g') END AS value_preview,
    r_parse_error AS parse_error,
    CASE WHEN v_trace_id IS NULL OR (v_failed_at IS NOT NULL AND v_failed_at_naive)
              OR v_failed_at > future_from OR (r_url IS NOT NULL AND r_domain IS NULL)
        THEN list_filter([
            CASE WHEN v_trace_id IS NULL AND r_trace_id IS NOT NULL AND record_format = 'pipeline'
                AND dlq_format <> 'envelope'
                THEN 'trace_id taken from the record key' END,
            CASE WHEN v_failed_at IS NOT NULL AND v_failed_at_naive
                THEN 'failed_at has no UTC offset; read as UTC' END,
            CASE WHEN v_failed_at > future_from
                THEN 'failed_at is in the future' END,
            CASE WHEN r_url IS NOT NULL AND r_domain IS NULL
                THEN CASE dlq_format WHEN 'claimx-download' THEN 'download_url'
                     ELSE 'attachment_url' END || ' is not a URL with a host' END
        ], lambda w: w IS NOT NULL)
        ELSE []
    END AS parse_warnings,
    record_format,
    r_trace_id AS trace_id,
    r_url AS attachment_url,
    r_retry_count AS retry_count,
    r_category AS error_category,
    r_error_message AS error_message,
    r_error_source AS error_source,
    v_failed_at AS failed_at,
    j[7] AS event_type,
    j[8] AS event_subtype,
    -- CASE, not coalesce: the regular expression then only runs where the task has no type.
    CASE WHEN nullif(trim(j[9]), '') IS NOT NULL THEN lower(trim(j[9]))
         ELSE dlq_url_extension(r_url) END AS file_type,
    j[10] AS assignment_id,
    r_domain AS "domain",
    NULL::VARCHAR AS error_signature,  -- ingest.parse.with_signatures
    fc.topic AS origin_topic,
    try_cast(fc.part AS INTEGER) AS origin_partition,
    fc.off AS origin_offset,
    fc.exc AS exception_class,
    dlq_format,
    coalesce(nullif(trim(k[1]), ''), nullif(trim(k[15]), '')) AS media_id,
    nullif(trim(k[2]), '') AS project_id,
    nullif(trim(k[9]), '') AS consumer_group,
    coalesce(nullif(trim(k[10]), ''), nullif(trim(k[11]), '')) AS worker,
    staged_row  -- checked and dropped by ingest.parse: the raw columns go back by position
FROM judged
