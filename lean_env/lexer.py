"""A Lean 4 lexer for model-written text: where Lean would see code, and what code.

The screen (``lean_env.screen``) must never see a string or a comment where Lean
sees code, or a command keyword hidden from it could end the proof and run. So
this lexer follows Lean's own tokenizer (``Lean.Parser.Basic``) on the points that
decide what is code: nested ``/- -/`` comments (Lean's exact nesting walk), ``--``
comments, string literals with escapes and gaps, char literals, ``«»`` names,
qualified identifiers, and interpolated strings (``s!"..{code}.."``, ``m!``,
``f!``, ``throwError "..."``), whose ``{}`` parts are code. Where Lean versions
disagree or the text is malformed (raw strings, an unterminated comment or
literal), the lexer reports an ``Unsure`` token and the screen refuses the text:
ambiguity is never resolved in the proof's favour.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Kind(enum.StrEnum):
    IDENT = "ident"  # a possibly qualified identifier; ``parts`` holds its components
    HASH = "hash"  # ``#`` directly followed by identifier characters: ``#eval``, ``#print``
    NAME_LITERAL = "name_literal"  # `` `foo.bar `` or `` ``foo ``
    QUOTATION = "quotation"  # `` `( `` or `` `[ ``: a syntax quotation (meta code)
    STRING = "string"
    CHAR = "char"
    NUMBER = "number"
    SYMBOL = "symbol"
    DOC_COMMENT = "doc_comment"  # ``/--`` or ``/-!``: not whitespace in Lean, they start commands
    UNSURE = "unsure"  # something Lean versions read differently, or malformed


@dataclass(frozen=True, slots=True)
class Token:
    """One token: its kind, its text, where it starts and, for identifiers, the name's components."""

    kind: Kind
    text: str
    start: int
    parts: tuple[str, ...] = ()


# Prefixes after which Lean parses an interpolated string (the `{...}` parts are terms).
INTERPOLATION_PREFIXES = frozenset({"s!", "m!", "f!", "throwError", "throwErrorAt", "trace"})

_SUBSCRIPT_RANGES = ((0x2080, 0x2089), (0x2090, 0x209C), (0x1D62, 0x1D6A))


def _letter_like(code: int) -> bool:
    # Lean.isLetterLike: Greek (but λ, Π, Σ), Coptic, Greek extended, letterlike symbols, math alphanumerics.
    return (
        (0x3B1 <= code <= 0x3C9 and code != 0x3BB)
        or (0x391 <= code <= 0x3A9 and code not in (0x3A0, 0x3A3))
        or 0x3CA <= code <= 0x3FB
        or 0x1F00 <= code <= 0x1FFE
        or 0x2100 <= code <= 0x214F
        or 0x1D49C <= code <= 0x1D59F
    )


def is_id_first(char: str) -> bool:
    """Lean's ``isIdFirst``; non-ASCII letters count too (Lean rejects them, so this only finds more)."""
    return char.isalpha() or char == "_" or _letter_like(ord(char))


def is_id_rest(char: str) -> bool:
    code = ord(char)
    return (
        is_id_first(char)
        or char.isdigit()
        or char in "'!?"
        or any(low <= code <= high for low, high in _SUBSCRIPT_RANGES)
        or code == 0x2C7C
    )


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.tokens: list[Token] = []

    def peek(self, offset: int = 0) -> str:
        index = self.pos + offset
        return self.text[index] if index < len(self.text) else ""

    def emit(self, kind: Kind, start: int, parts: tuple[str, ...] = ()) -> None:
        self.tokens.append(Token(kind, self.text[start : self.pos], start, parts))

    def unsure(self, start: int, why: str) -> None:
        self.tokens.append(Token(Kind.UNSURE, why, start))
        self.pos = len(self.text)

    # -- whitespace and comments --------------------------------------------------------

    def skip_space(self) -> None:
        """Whitespace, ``--`` and plain ``/- -/`` comments (Lean's ``whitespace``)."""
        while self.pos < len(self.text):
            char = self.peek()
            if char.isspace():
                self.pos += 1
            elif char == "-" and self.peek(1) == "-":
                end = self.text.find("\n", self.pos)
                self.pos = len(self.text) if end < 0 else end + 1
            elif char == "/" and self.peek(1) == "-" and self.peek(2) not in ("-", "!"):
                start = self.pos
                # Like Lean, the character after `/-` is stepped over unexamined: `/-/-` does not nest.
                self.pos += 3
                if self.pos > len(self.text) or not self.finish_comment_block():
                    self.unsure(start, "an unterminated /- comment")
                    return
            else:
                return

    def finish_comment_block(self) -> bool:
        """Lean's ``finishCommentBlock``: ``/-`` nests, ``-/`` closes; True when closed."""
        nesting, text = 1, self.text
        while self.pos < len(text):
            char = text[self.pos]
            self.pos += 1
            if char == "-" and self.pos < len(text) and text[self.pos] == "/":
                self.pos += 1
                nesting -= 1
                if nesting == 0:
                    return True
            elif char == "/" and self.pos < len(text) and text[self.pos] == "-":
                self.pos += 1
                nesting += 1
        return False

    # -- literals -----------------------------------------------------------------------

    def string(self, start: int, interpolated: bool) -> None:
        """From just after the opening quote to just after the closing one."""
        while self.pos < len(self.text):
            char = self.peek()
            self.pos += 1
            if char == "\\":
                if self.pos >= len(self.text):
                    break
                self.pos += 1  # the escaped character (an escaped newline is a gap: skipped alike)
            elif char == '"':
                self.emit(Kind.STRING, start)
                return
            elif char == "{" and interpolated:
                # The term inside is code: lex it as such, up to the matching `}`.
                self.emit(Kind.STRING, start)
                if not self.code_until_brace():
                    return
                start = self.pos
        self.unsure(start, "an unterminated string literal")

    def code_until_brace(self) -> bool:
        """Tokens of an interpolated term up to its closing ``}``; False when the text ended first."""
        depth = 0
        while True:
            self.skip_space()
            if self.pos >= len(self.text) or (self.tokens and self.tokens[-1].kind is Kind.UNSURE):
                if not (self.tokens and self.tokens[-1].kind is Kind.UNSURE):
                    self.unsure(self.pos, "an unterminated interpolated string")
                return False
            char = self.peek()
            if char == "}" and depth == 0:
                self.pos += 1
                return True
            if char == "{":
                depth += 1
            elif char == "}":
                depth -= 1
            self.token()

    def char_literal(self, start: int) -> None:
        """``'c'`` or ``'\\n'``: Lean reads one character or escape, then wants ``'``."""
        self.pos += 1
        if self.peek() == "\\":
            self.pos += 1
            if self.peek() == "x":
                self.pos += 3
            elif self.peek() == "u":
                self.pos += 5
            else:
                self.pos += 1
        else:
            self.pos += 1
        if self.peek() != "'":
            self.unsure(start, "a malformed character literal")
            return
        self.pos += 1
        self.emit(Kind.CHAR, start)

    # -- names --------------------------------------------------------------------------

    def identifier(self, start: int) -> None:
        """A dotted identifier; components may be ``«escaped»``."""
        parts: list[str] = []
        while True:
            if self.peek() == "«":
                close = self.text.find("»", self.pos + 1)
                if close < 0:
                    self.unsure(self.pos, "an unterminated «name»")
                    return
                parts.append(self.text[self.pos + 1 : close])
                self.pos = close + 1
            else:
                begin = self.pos
                self.pos += 1
                while self.pos < len(self.text) and is_id_rest(self.text[self.pos]):
                    self.pos += 1
                parts.append(self.text[begin : self.pos])
            following = self.peek(1)
            if self.peek() == "." and following and (is_id_first(following) or following == "«"):
                self.pos += 1
                continue
            break
        self.emit(Kind.IDENT, start, tuple(parts))

    # -- dispatch -----------------------------------------------------------------------

    def token(self) -> None:
        start, char = self.pos, self.peek()
        nxt = self.peek(1)
        if char == '"':
            self.pos += 1
            previous = self.tokens[-1] if self.tokens else None
            adjacent = previous is not None and previous.start + len(previous.text) == start
            interpolated = previous is not None and (
                previous.text in INTERPOLATION_PREFIXES
                or (previous.kind is Kind.IDENT and previous.text.endswith("!") and adjacent)
            )
            self.string(start, interpolated)
        elif char == "r" and (nxt == '"' or (nxt == "#" and self.text[self.pos + 1 :].lstrip("#").startswith('"'))):
            self.unsure(start, "a raw string literal (Lean versions lex these differently)")
        elif is_id_first(char) or char == "«":
            self.identifier(start)
        elif char == "'" and nxt != "'":
            self.char_literal(start)
        elif char.isdigit():
            while self.pos < len(self.text) and (self.text[self.pos].isalnum() or self.text[self.pos] in "._"):
                if self.text[self.pos] == "." and not self.peek(1).isdigit():
                    break
                self.pos += 1
            self.emit(Kind.NUMBER, start)
        elif char == "#" and nxt and is_id_rest(nxt):
            self.pos += 1
            while self.pos < len(self.text) and is_id_rest(self.text[self.pos]):
                self.pos += 1
            self.emit(Kind.HASH, start)
        elif char == "`":
            self.backtick(start)
        elif char == "/" and nxt == "-":  # `/--` or `/-!` (plain comments were skipped as space)
            self.pos += 3
            self.emit(Kind.DOC_COMMENT, start)
        else:
            self.pos += 1
            self.emit(Kind.SYMBOL, start)

    def backtick(self, start: int) -> None:
        self.pos += 1
        if self.peek() == "`":
            self.pos += 1
        if self.peek() in ("(", "["):
            self.pos += 1
            self.emit(Kind.QUOTATION, start)
            return
        if self.peek() and (is_id_first(self.peek()) or self.peek() == "«"):
            name_start = self.pos
            self.identifier(name_start)
            ident = self.tokens.pop()
            self.tokens.append(Token(Kind.NAME_LITERAL, self.text[start : self.pos], start, ident.parts))
            return
        self.emit(Kind.SYMBOL, start)

    def run(self) -> list[Token]:
        while True:
            self.skip_space()
            if self.pos >= len(self.text) or (self.tokens and self.tokens[-1].kind is Kind.UNSURE):
                return self.tokens
            self.token()


def tokenize(text: str) -> list[Token]:
    """The tokens Lean would read in ``text`` (comments and whitespace dropped).

    The last token is ``Kind.UNSURE`` when the text holds something this lexer
    cannot read the way every Lean version does; nothing after it is lexed.
    """
    return _Lexer(text).run()
