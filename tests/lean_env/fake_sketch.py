"""The REPL stand-in's sketches: `have NAME : TYPE := ...` steps and their `sorry` gaps (see fake_repl.py).

Imported by fake_repl.py as a sibling module (it runs as a script).
"""

from __future__ import annotations

import re

HAVE = re.compile(r"have(?:\s+(?P<name>[^\s:()]+))?\s*:\s*(?P<type>.+?)\s*:=\s*(?P<value>.*?)\s*")


class SketchElaboration:
    """How the stand-in elaborates a proof with `have` steps, as a mixin of its `FakeRepl`."""

    def sketch_check(self, statement: str, goal: str, body: str) -> dict:
        """A proof with `have NAME : TYPE := ...` steps, elaborated as blocks by indentation.

        A `have` adds `NAME : TYPE` to the goal's hypotheses; its own goal is the same hypotheses
        with `TYPE` as target. Its value is a gap (`by sorry`, `sorry`, or `by` with `sorry` alone on
        the next line), one tactic (`by TAC`) or a deeper block after `by`, which must close that
        goal. Each gap's sorry is reported as the REPL does: in `sorries`, with a proof state on the
        have's goal, its `pos` and `endPos` (line, column in codepoints), tactic sorries first, then
        term sorries (`InfoTree.sorries` of leanprover-community/repl), and the theorem's warning.
        """
        env = self.new_env()
        name = self.name_of(statement)
        lines = body.split("\n")  # line i of the body is line i + 2 of the command
        gaps: dict[str, list[tuple[str, int, int]]] = {"tactic": [], "term": []}
        messages: list[dict] = []
        used: list[str] = ["propext"]
        left = self.sketch_block(lines, 0, len(lines), 2, [goal], messages, used, gaps)
        if left:
            messages.append(self.message("error", "unsolved goals\n" + left[0], 1))
            used.append("sorryAx")
        sorries = [
            {
                "proofState": self.new_state(gap_goal),
                "pos": {"line": line, "column": column},
                "goal": gap_goal,
                "endPos": {"line": line, "column": column + len("sorry")},
            }
            for gap_goal, line, column in gaps["tactic"] + gaps["term"]
        ]
        if sorries:
            used.append("sorryAx")
            where = {"line": 1, "column": len(statement.split()[0]) + 1}
            end = {"line": 1, "column": where["column"] + len(name)}
            messages.insert(0, {"severity": "warning", "pos": where, "endPos": end, "data": "declaration uses `sorry`"})
        self.decls[env] = {name: (list(dict.fromkeys(used)), self.printed_type(name, statement))}
        reply: dict = {"sorries": sorries} if sorries else {}
        if messages:
            reply["messages"] = messages
        reply["env"] = env
        return reply

    def sketch_block(
        self, lines: list[str], start: int, end: int, indent: int, goals: list, messages: list, used: list, gaps: dict
    ) -> list | None:
        """The goals a block of tactics at ``indent`` leaves (None after an error)."""
        current: list | None = list(goals)
        path: tuple[str, ...] = ()
        index = start
        while index < end and current is not None:
            if not lines[index].strip():
                index += 1
                continue
            stop = index + 1
            while stop < end and (not lines[stop].strip() or len(lines[stop]) - len(lines[stop].lstrip()) > indent):
                stop += 1
            text = lines[index][indent:]
            have = HAVE.fullmatch(text)
            scripted = current and self.step_for(current[0], path, text) is not None
            if have and not scripted and current:
                current = self.sketch_have(have, lines, index, stop, current, messages, used, gaps)
                path = (*path, text)
            else:
                tactic = "\n".join(line[indent:] for line in lines[index:stop]).rstrip()
                current, path = self.check_tactic(tactic, current, path, index + 2, messages, used)
            index = stop
        return current

    def sketch_have(
        self,
        have: re.Match,
        lines: list[str],
        index: int,
        stop: int,
        current: list,
        messages: list,
        used: list,
        gaps: dict,
    ) -> list | None:
        """One `have` step: its gap recorded or its proof elaborated; the goals after it."""
        hypotheses, target = current[0].rpartition("⊢ ")[::2]
        own = f"{hypotheses}⊢ {have['type']}"
        value, line = have["value"], lines[index]
        children = [k for k in range(index + 1, stop) if lines[k].strip()]
        if value in ("by sorry", "sorry") and not children:
            gaps["term" if value == "sorry" else "tactic"].append((own, index + 2, line.rindex("sorry")))
        elif value == "by" and len(children) == 1 and lines[children[0]].strip() == "sorry":
            child = lines[children[0]]
            gaps["tactic"].append((own, children[0] + 2, len(child) - len(child.lstrip())))
        elif (value == "by" and children) or (value.startswith("by ") and not children):
            if children:  # a block deeper than the have: a filled gap
                inner = len(lines[children[0]]) - len(lines[children[0]].lstrip())
                left = self.sketch_block(lines, index + 1, stop, inner, [own], messages, used, gaps)
            else:
                left, _ = self.check_tactic(value[3:], [own], (), index + 2, messages, used)
            if left:
                messages.append(self.message("error", "unsolved goals\n" + left[0], index + 2))
                used.append("sorryAx")
            if left is None or left:
                return None
        else:
            messages.append(self.message("error", f"the stand-in cannot elaborate {line.strip()!r}", index + 2))
            return None
        return [f"{hypotheses}{have['name'] or 'this'} : {have['type']}\n⊢ {target}", *current[1:]]
