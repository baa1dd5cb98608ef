"""Isabelle's outer lexical syntax, as far as screening model text needs it.

Follows Isabelle2022's token scanner (Pure/Isar/token.ML, Pure/General/comment.ML and
isar-ref "Lexical matters"), in its order: double-quoted strings and back-quoted strings
(escapes ``\\"``, ``\\\\`` and ``\\ddd`` only), verbatim ``{* *}``, cartouches
``\\<open> \\<close>`` (nested), source comments ``(* *)`` (nested, blind to quotes), formal
comments (``\\<comment>`` then blanks then a cartouche; ``\\<^cancel>``, ``\\<^latex>`` and
``\\<^marker>`` directly followed by one), blanks, and the rest.

Where this lexer and Isabelle's could split differently it errs towards seeing MORE
words: a word is a maximal ASCII identifier (dotted parts kept together), so
``sorry\\<^sub>1`` yields the word ``sorry`` (Isabelle reads one identifier) and never the
other way round. Input Isabelle would reject (an unterminated comment, a bad escape, a
formal comment without its cartouche, a malformed ``\\<...>`` symbol) is a `LexError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

OPEN = "\\<open>"
CLOSE = "\\<close>"
FORMAL_COMMENTS = ("\\<^cancel>", "\\<^latex>", "\\<^marker>")  # each directly followed by a cartouche
COMMENT_SYMBOL = "\\<comment>"  # then blanks, then a cartouche

_SYMBOL = re.compile(r"\\<\^?[A-Za-z][A-Za-z0-9_']*>")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_']*(?:\.[A-Za-z][A-Za-z0-9_']*)*")
_BLANKS = re.compile(r"[ \t\n\r\f]+")

# Kinds that carry no meaning for the proof: Isabelle drops them before parsing commands.
IGNORED = frozenset({"space", "comment", "formal_comment"})


class LexError(ValueError):
    """Text Isabelle's outer lexer rejects; ``position`` is where."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at character {position})")
        self.position = position


@dataclass(frozen=True, slots=True)
class Token:
    """One token: ``kind`` is space, comment, formal_comment, string, altstring, verbatim,
    cartouche, word, symbol (a ``\\<name>``), nonascii or other (one character)."""

    kind: str
    text: str
    start: int

    @property
    def content(self) -> str:
        """The text between the delimiters of a string, altstring, verbatim or cartouche."""
        if self.kind in ("string", "altstring"):
            return self.text[1:-1]
        if self.kind == "verbatim":
            return self.text[2:-2]
        if self.kind == "cartouche":
            return self.text[len(OPEN) : -len(CLOSE)]
        return self.text


def _quoted(text: str, start: int, quote: str) -> int:
    """End of the string opening at ``start``: only ``\\quote``, ``\\\\`` and ``\\ddd`` escape."""
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == quote:
            return i + 1
        if char == "\\":
            if text.startswith("\\<", i):
                symbol = _SYMBOL.match(text, i)
                if symbol is None:
                    raise LexError("malformed symbol in a string", i)
                i = symbol.end()
                continue
            following = text[i + 1 : i + 2]
            if following in (quote, "\\"):
                i += 2
                continue
            if text[i + 1 : i + 4].isdigit() and len(text[i + 1 : i + 4]) == 3:
                i += 4
                continue
            raise LexError("bad escape character in string", i)
        i += 1
    raise LexError("unterminated string", start)


def _nested(text: str, start: int, opener: str, closer: str, what: str) -> int:
    """End of the nested block opening at ``start``; only its own delimiters count inside."""
    depth, i = 0, start
    while i < len(text):
        if text.startswith(opener, i):
            depth += 1
            i += len(opener)
        elif text.startswith(closer, i):
            depth -= 1
            i += len(closer)
            if depth == 0:
                return i
        else:
            i += 1
    raise LexError(f"unterminated {what}", start)


def _cartouche(text: str, start: int) -> int:
    return _nested(text, start, OPEN, CLOSE, "cartouche")


def _formal_comment(text: str, start: int) -> int:
    """End of a formal comment at ``start``; Isabelle demands the cartouche."""
    if text.startswith(COMMENT_SYMBOL, start):
        i = start + len(COMMENT_SYMBOL)
        blanks = _BLANKS.match(text, i)
        i = blanks.end() if blanks else i
    else:
        i = start + next(len(s) for s in FORMAL_COMMENTS if text.startswith(s, start))
    if not text.startswith(OPEN, i):
        raise LexError("cartouche expected after a formal comment symbol", start)
    return _cartouche(text, i)


def _scan(text: str, i: int) -> tuple[str, int]:
    """The kind and end of the token starting at ``i``."""
    char = text[i]
    if char == '"':
        return "string", _quoted(text, i, '"')
    if char == "`":
        return "altstring", _quoted(text, i, "`")
    if text.startswith("{*", i):
        end = text.find("*}", i + 2)
        if end < 0:
            raise LexError("unterminated verbatim text", i)
        return "verbatim", end + 2
    if text.startswith(OPEN, i):
        return "cartouche", _cartouche(text, i)
    if text.startswith("(*", i):  # blind to quotes and cartouches inside, as Isabelle's scanner is
        return "comment", _nested(text, i, "(*", "*)", "comment")
    if text.startswith(COMMENT_SYMBOL, i) or text.startswith(FORMAL_COMMENTS, i):
        return "formal_comment", _formal_comment(text, i)
    if blanks := _BLANKS.match(text, i):
        return "space", blanks.end()
    if text.startswith("\\<", i):
        symbol = _SYMBOL.match(text, i)
        if symbol is None:
            raise LexError("malformed symbol", i)
        return "symbol", symbol.end()
    if word := _WORD.match(text, i):
        return "word", word.end()
    if not char.isascii():
        return "nonascii", i + 1
    return "other", i + 1


def tokenize(text: str) -> list[Token]:
    """Every token of ``text`` in order (spaces and comments included); LexError where Isabelle would fail."""
    out: list[Token] = []
    i = 0
    while i < len(text):
        kind, end = _scan(text, i)
        out.append(Token(kind, text[i:end], i))
        i = end
    return out


def significant(text: str) -> list[Token]:
    """The tokens that carry meaning: no blanks, no comments of either kind."""
    return [t for t in tokenize(text) if t.kind not in IGNORED]


def normalised(text: str) -> tuple[str, ...]:
    """The text as Isabelle reads it, blind to layout and comments (blank runs in quotes made one space)."""
    return tuple(
        " ".join(t.text.split()) if t.kind in ("string", "altstring", "cartouche") else t.text
        for t in significant(text)
    )
