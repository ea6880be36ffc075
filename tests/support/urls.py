"""URLs with a password, malformed every way an operator can type them, for redaction tests.

The password's letters (``SECRET_MARKS``) appear nowhere else, so any of them in an output
is a leaked piece of it.
"""

from __future__ import annotations

from hypothesis import strategies as st

__all__ = ["SECRET_MARKS", "leaked", "malformed_urls"]

SECRET_MARKS = "ΩΨΦΛ"  # appear nowhere else: any of them in the output is a leaked piece
lowercase = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=6)
passwords = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from(SECRET_MARKS),
    st.text(alphabet=SECRET_MARKS + "/?#@:%&=;+!$[]", max_size=12),
)
malformed_urls = st.builds(
    lambda scheme, sep, user, password, host, rest, in_query: (
        f"{scheme}{sep}{host}/0?password={password}{rest}"
        if in_query
        else f"{scheme}{sep}{user}:{password}@{host}{rest}"
    ),
    st.sampled_from(["redis", "rediss", "unix", "sqlite", "", "http"]),
    st.sampled_from([":", ":/", "://", ":///", "//", "", ":\\\\"]),
    st.just("") | lowercase,
    passwords,
    lowercase | st.just("") | st.just("[::1"),
    st.sampled_from(["", "/", ":port/db", "/path@x", "?x=@y", "#frag"]),
    st.booleans(),
)


def leaked(text: str) -> bool:
    return any(c in text for c in SECRET_MARKS) or "%ce" in text.lower() or "%cf" in text.lower()
