"""A Lean 4 lexer for model-written text: where Lean would see code, and what code.

The screen (``lean_env.screen``) must never see a string or a comment where Lean
sees code, or a command keyword hidden from it could end the proof and run. So
this lexer follows Lean's own tokenizer (``Lean.Parser.Basic``) on the points that
decide what is code: whitespace (``whitespace``), nested ``/- -/`` comments (Lean's
exact nesting walk, which steps over the character after ``/-``), ``--`` comments,
string and char literals with Lean's escapes only, ``«»`` names, identifiers
(``isIdFirst`` / ``isIdRest``: ASCII letters and digits, Lean's letter-like ranges,
subscripts) and numbers (``decimalNumberFn`` and the ``0x``/``0b``/``0o`` forms).

Where Lean's reading depends on something this lexer cannot know (the token table
of the environment: ``//-`` is the token ``//`` then ``-`` in Mathlib, a comment
without it) or Lean versions disagree, or the text is malformed in a way Lean's
error recovery would resume inside, the lexer reports an ``Unsure`` token and the
screen refuses the text: ambiguity is never resolved in the proof's favour. So:

- a comment opener (``--``, ``/-``) glued to a symbol, or ``'`` glued to a symbol
  before a quote or a backslash (``''``, ``⁻¹'`` and ``∑'`` are Mathlib tokens);
- a string literal holding ``{`` (``dbg_trace``, ``println!``, ``throwError``... read
  their string as interpolated, with code inside the braces), an escape Lean does not
  accept, or a string gap;
- raw strings, tabs, unterminated comments, literals or names.
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
    UNSURE = "unsure"  # something Lean may read differently, or malformed


@dataclass(frozen=True, slots=True)
class Token:
    """One token: its kind, its text, where it starts and, for identifiers, the name's components."""

    kind: Kind
    text: str
    start: int
    parts: tuple[str, ...] = ()

    @property
    def end(self) -> int:
        return self.start + len(self.text)


WHITESPACE = " \n\r"  # Lean's `isWhitespace` (a tab is whitespace to it too, but an error: refused here)
_SUBSCRIPT_RANGES = ((0x2080, 0x2089), (0x2090, 0x209C), (0x1D62, 0x1D6A))
_SIMPLE_ESCAPES = frozenset("\\\"'rnt")
_HEX = frozenset("0123456789abcdefABCDEF")


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


def _ascii_digit(char: str) -> bool:
    return "0" <= char <= "9"


def is_id_first(char: str) -> bool:
    """Lean's ``isIdFirst``: ASCII letters, ``_``, and the letter-like ranges."""
    return ("a" <= char <= "z") or ("A" <= char <= "Z") or char == "_" or (len(char) == 1 and _letter_like(ord(char)))


def is_id_rest(char: str) -> bool:
    """Lean's ``isIdRest``: ``isIdFirst``, ASCII digits, ``'``, ``!``, ``?`` and subscripts."""
    if not char:
        return False
    code = ord(char)
    return (
        is_id_first(char)
        or _ascii_digit(char)
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

    @property
    def done(self) -> bool:
        return self.pos >= len(self.text) or bool(self.tokens and self.tokens[-1].kind is Kind.UNSURE)

    def glued_to_symbol(self) -> bool:
        """The previous token is a symbol ending right here: Lean may read both as one longer token."""
        last = self.tokens[-1] if self.tokens else None
        return last is not None and last.kind is Kind.SYMBOL and last.end == self.pos

    # -- whitespace and comments --------------------------------------------------------

    def skip_space(self) -> None:
        """Whitespace, ``--`` and plain ``/- -/`` comments (Lean's ``whitespace``)."""
        while self.pos < len(self.text):
            char, nxt = self.peek(), self.peek(1)
            if char in WHITESPACE:
                self.pos += 1
            elif char == "\t":
                self.unsure(self.pos, "a tab (Lean does not allow tabs)")
                return
            elif (char == "-" and nxt == "-") or (char == "/" and nxt == "-"):
                if self.glued_to_symbol():
                    self.unsure(self.pos, f"a comment opener {char + nxt!r} glued to a symbol")
                    return
                if char == "-":
                    end = self.text.find("\n", self.pos)
                    self.pos = len(self.text) if end < 0 else end + 1
                elif self.peek(2) in ("-", "!"):
                    return  # `/--` and `/-!` are tokens (doc comments), not whitespace
                else:
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

    def escape(self) -> str | None:
        """After a backslash: consume one escape Lean accepts, or say why it is not one."""
        char = self.peek()
        if char in _SIMPLE_ESCAPES and char:
            self.pos += 1
            return None
        for prefix, width in (("x", 2), ("u", 4)):
            if char == prefix:
                digits = self.text[self.pos + 1 : self.pos + 1 + width]
                if len(digits) == width and all(d in _HEX for d in digits):
                    self.pos += 1 + width
                    return None
                return f"an invalid \\{prefix} escape"
        if char == "\n":
            return "a string gap"
        return f"an invalid escape \\{char}"

    def string(self, start: int) -> None:
        """From just after the opening quote to just after the closing one."""
        while self.pos < len(self.text):
            char = self.peek()
            self.pos += 1
            if char == "\\":
                problem = self.escape()
                if problem is not None:
                    self.unsure(start, f"{problem} in a string literal")
                    return
            elif char == '"':
                self.emit(Kind.STRING, start)
                return
            elif char == "{":
                self.unsure(start, "a string literal with `{` (Lean may read it as interpolated, with code inside)")
                return
        self.unsure(start, "an unterminated string literal")

    def char_literal(self, start: int) -> None:
        """``'c'`` or ``'\\n'``: Lean reads one character or escape, then wants ``'``."""
        self.pos += 1
        if self.peek() == "\\":
            self.pos += 1
            problem = self.escape()
            if problem is not None:
                self.unsure(start, f"{problem} in a character literal")
                return
        else:
            self.pos += 1
        if self.peek() != "'":
            self.unsure(start, "a malformed character literal")
            return
        self.pos += 1
        self.emit(Kind.CHAR, start)

    def number(self, start: int) -> None:
        """Lean's numerals: ``0x``/``0b``/``0o`` with their digits, or decimal with fraction and exponent."""
        bases = {"x": _HEX, "X": _HEX, "b": frozenset("01"), "B": frozenset("01"), "o": frozenset("01234567")}
        bases["O"] = bases["o"]
        if self.peek() == "0" and self.peek(1) in bases and self.peek(1):
            digits = bases[self.peek(1)]
            self.pos += 2
            begin = self.pos
            while self.peek() and self.peek() in digits:
                self.pos += 1
            if self.pos == begin:
                self.unsure(start, "a numeral prefix without digits")
                return
            self.emit(Kind.NUMBER, start)
            return
        while _ascii_digit(self.peek()):
            self.pos += 1
        if self.peek() == "." and _ascii_digit(self.peek(1)):
            self.pos += 1
            while _ascii_digit(self.peek()):
                self.pos += 1
        if self.peek() in ("e", "E") and (
            _ascii_digit(self.peek(1)) or (self.peek(1) in "+-" and self.peek(1) and _ascii_digit(self.peek(2)))
        ):
            self.pos += 2
            while _ascii_digit(self.peek()):
                self.pos += 1
        self.emit(Kind.NUMBER, start)

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
                while is_id_rest(self.peek()):
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
        start, char, nxt = self.pos, self.peek(), self.peek(1)
        if char == '"':
            self.pos += 1
            self.string(start)
        elif char == "r" and (nxt == '"' or (nxt == "#" and self.text[self.pos + 1 :].lstrip("#").startswith('"'))):
            self.unsure(start, "a raw string literal (Lean versions lex these differently)")
        elif is_id_first(char) or char == "«":
            self.identifier(start)
        elif char == "'" and self.glued_to_symbol():
            # Part of a longer token in Mathlib (`''`, `⁻¹'`, `∑'`), or a char literal without it:
            # both readings agree unless the would-be literal holds a quote or an escape.
            if nxt in ('"', "\\", "'"):
                self.unsure(start, "a quote glued to a symbol before a quote or escape")
                return
            self.pos += 1
            self.emit(Kind.SYMBOL, start)
        elif char == "'" and nxt != "'":
            self.char_literal(start)
        elif _ascii_digit(char):
            self.number(start)
        elif char == "#" and is_id_rest(nxt):
            self.pos += 1
            while is_id_rest(self.peek()):
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
        if is_id_first(self.peek()) or self.peek() == "«":
            self.identifier(self.pos)
            if self.tokens[-1].kind is Kind.UNSURE:
                return
            ident = self.tokens.pop()
            self.tokens.append(Token(Kind.NAME_LITERAL, self.text[start : self.pos], start, ident.parts))
            return
        self.emit(Kind.SYMBOL, start)

    def run(self) -> list[Token]:
        while True:
            self.skip_space()
            if self.done:
                return self.tokens
            self.token()


def tokenize(text: str) -> list[Token]:
    """The tokens Lean would read in ``text`` (comments and whitespace dropped).

    The last token is ``Kind.UNSURE`` when the text holds something this lexer
    cannot read the way every Lean version does; nothing after it is lexed.
    """
    return _Lexer(text).run()
