-- One error signature per distinct error text (ingest.parse, `BatchParser`): the relation
-- `dlq_input` (column `message`) in, `signature` out, in the same order (every step is a
-- projection, which keeps its input's order).
--
-- The first steps (URLs, credentials, timestamps) each need a character the text may lack
-- (`://`, `=` or `%`, `%`, `-`), and run only on the texts that have it in the message: a
-- regular expression scans the whole text even where it cannot match, and a step that
-- cannot match leaves the text as it was (no step adds those characters). The rest is
-- macros.sql's `dlq_error_signature_rest`.
WITH urls AS (
    SELECT message, CASE WHEN contains(message, '://') THEN regexp_replace(message,
        '[A-Za-z][A-Za-z0-9+.-]*://[^\s"''<>]+', '<url>', 'g')
        ELSE message END AS m
    FROM dlq_input
),
credentials AS (
    SELECT message, CASE WHEN contains(message, '=') OR contains(message, '%') THEN regexp_replace(m,
        '(?i)([?&;]|%(?:25)*(?:3F|26|3B))(x\-amz\-security\-token|sharedaccesssignature|x\-goog\-credential|x\-amz\-credential|x\-goog\-signature|x\-amz\-signature|awsaccesskeyid|googleaccessid|refresh_token|key\-pair\-id|client_secret|access_token|signature|id_token|password|api\-key|api_key|passwd|secret|apikey|policy|token|sktid|skoid|code|auth|sks|key|skt|skv|ske|jwt|sig|pwd|sv|se)(=|%(?:25)*3D)[^\s"''<>&;]*',
        '\1\2=<secret>', 'g')
        ELSE m END AS m
    FROM urls
),
encoded AS (
    SELECT message, CASE WHEN contains(message, '%') THEN regexp_replace(m,
        '(?i)(^|[^A-Za-z0-9_%-])(x\-amz\-security\-token|sharedaccesssignature|x\-goog\-credential|x\-amz\-credential|x\-goog\-signature|x\-amz\-signature|awsaccesskeyid|googleaccessid|refresh_token|key\-pair\-id|client_secret|access_token|signature|id_token|password|api\-key|api_key|passwd|secret|apikey|policy|token|sktid|skoid|code|auth|sks|key|skt|skv|ske|jwt|sig|pwd|sv|se)(%(?:25)*3D)[^\s"''<>&;]*',
        '\1\2=<secret>', 'g')
        ELSE m END AS m
    FROM credentials
),
times AS (
    SELECT message, CASE WHEN contains(message, '-') THEN regexp_replace(m,
        '[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?',
        '<time>', 'g')
        ELSE m END AS m
    FROM encoded
)
SELECT dlq_error_signature_rest(message, m) AS signature FROM times
