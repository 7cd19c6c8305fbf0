"""Untrusted text in Markdown exports: inert as markup, yet readable when pasted into a chat."""

from __future__ import annotations

import pytest

from dashboard.text.safe_text import markdown_inline


@pytest.mark.parametrize(
    "text",
    [
        "evt_abc_123 failed (404) - File not found.",
        "5 * 3 = 15 & 2 + 2",
        "https://storage.example.com/claims/a_b.pdf?x=1&y=2",
        "12.5 MB at 10:45:00! #3",
        "C:\\temp\\file",
    ],
)
def test_plain_text_is_left_as_it_is(text: str) -> None:
    assert markdown_inline(text) == text


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("<script>x</script>", "\\<script>x\\</script>"),
        ("[see](javascript:x)", "\\[see\\](javascript:x)"),
        ("![img](http://x)", "!\\[img\\](http://x)"),
        ("**bold** and *em*", "\\*\\*bold\\*\\* and \\*em\\*"),
        ("_em_ but snake_case", "\\_em\\_ but snake_case"),
        ("`code`", "\\`code\\`"),
        ("a | b", "a \\| b"),
        ("~~gone~~", "\\~\\~gone\\~\\~"),
        ("\\*", "\\\\\\*"),
        ("# heading", "\\# heading"),
        ("> quote", "\\> quote"),
        ("- item", "\\- item"),
        ("12. item", "12\\. item"),
        ("line\nbreak", "line break"),
    ],
)
def test_what_would_render_as_markup_is_escaped(text: str, escaped: str) -> None:
    assert markdown_inline(text) == escaped
