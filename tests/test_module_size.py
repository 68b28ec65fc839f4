"""Issue 19's size rule: no module of the package above 400 lines of code, docstrings, comments
and blank lines aside (a module that grows past it is split by job, see docs/contributing.md)."""

import ast
import io
import tokenize
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "circuitsim"
LIMIT = 400


def lines_of_code(source: str) -> int:
    """Lines holding a token of code: not blank, not only a comment, not part of a string that
    stands alone as a statement (module, class and function docstrings, ``#:``-style attribute
    docstrings written as strings)."""
    docs = set()
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)):
            docs.update(range(node.lineno, node.end_lineno + 1))
    skip = (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
            tokenize.ENDMARKER)
    code = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in skip:
            code.update(range(tok.start[0], tok.end[0] + 1))
    return len(code - docs)


def test_the_counter_leaves_out_docstrings_comments_and_blank_lines():
    source = ('"""Module\ndocstring."""\n\n# a comment\nimport os  # trailing comment\n\n'
              'def f(x):\n    """Doc."""\n    y = {"a": 1,\n         "b": 2}\n    return x\n')
    # import, def, the two lines of the dict, return
    assert lines_of_code(source) == 5


def test_no_module_above_400_lines_of_code():
    sizes = {str(p.relative_to(PACKAGE.parent)): lines_of_code(p.read_text())
             for p in PACKAGE.rglob("*.py")}
    assert len(sizes) > 50
    over = {name: n for name, n in sizes.items() if n > LIMIT}
    assert not over, f"modules above {LIMIT} lines of code (split them by job): {over}"
