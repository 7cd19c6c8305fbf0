"""Credentials in URLs are masked wherever a URL is shown."""

from __future__ import annotations

import pytest

from dashboard.text.urls import mask_text, mask_url, shorten

S3 = (
    "https://claims-docs.s3.amazonaws.com/claims/C-1/a.pdf?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20261120&X-Amz-Date=20261120T100000Z"
    "&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=deadbeefcafe"
)
AZURE = (
    "https://acct.blob.core.windows.net/c/b.pdf?sv=2023-11-03&se=2026-11-20T10%3A00%3A00Z"
    "&sr=b&sp=r&sig=abc%2Bdef%3D"
)


def test_s3_signature_and_credential_are_masked_and_the_rest_kept() -> None:
    masked = mask_url(S3)
    assert "deadbeefcafe" not in masked and "AKIAIOSFODNN7EXAMPLE" not in masked
    assert "X-Amz-Signature=***" in masked and "X-Amz-Credential=***" in masked
    assert "X-Amz-Date=20261120T100000Z" in masked  # not a secret: kept for triage
    assert masked.startswith("https://claims-docs.s3.amazonaws.com/claims/C-1/a.pdf?")


def test_azure_sas_parameters_are_masked() -> None:
    masked = mask_url(AZURE)
    for secret in ("abc%2Bdef%3D", "2023-11-03", "2026-11-20T10%3A00%3A00Z"):
        assert secret not in masked
    assert "sr=b" in masked and "sp=r" in masked


@pytest.mark.parametrize(
    "name",
    [
        "token",
        "TOKEN",
        "SharedAccessSignature",
        "access_token",
        "X-Goog-Signature",
        "Signature",
        "api_key",
    ],
)
def test_named_credentials_are_masked_whatever_their_case(name: str) -> None:
    assert "s3cr3t" not in mask_url(f"https://h.example/p?a=1&{name}=s3cr3t#frag")


def test_userinfo_passwords_are_masked() -> None:
    assert mask_url("https://bob:hunter2@h.example/x") == "https://bob:***@h.example/x"


def test_urls_that_do_not_parse_are_still_masked() -> None:
    assert "s3cr3t" not in mask_url("htp:/broken url?sig=s3cr3t&x=1")
    assert "s3cr3t" not in mask_url("not even a url &token=s3cr3t")


def test_urls_inside_free_text_are_masked() -> None:
    text = f'SSL failed for {S3} (attempt 4); body: {{"url": "{AZURE}"}}'
    masked = mask_text(text)
    assert "deadbeefcafe" not in masked and "abc%2Bdef%3D" not in masked
    assert masked.startswith("SSL failed for https://claims-docs.s3.amazonaws.com/")


def test_a_url_without_secrets_is_unchanged() -> None:
    url = "https://files.example.net/api/v2/attachments/123/download.pdf?page=2"
    assert mask_url(url) == url
    assert mask_text(f"see {url}") == f"see {url}"


def test_shorten_marks_what_it_cut() -> None:
    assert shorten("abcdef", 10) == "abcdef"
    assert shorten("abcdefghijkl", 8) == "abcde..."
