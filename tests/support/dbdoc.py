"""Parser of the IMIS interface spec ``../shared/imis/DATABASE.md``.

Reads every column table of the form

    | # | column | type | null | key / default | notes |

and returns, per qualified table name, the ordered list of
``(column, type, nullable)``. The table name is the last backticked
``schema.table`` of the nearest Markdown heading above the column table
(e.g. ``### 4.1 `building_info.buildings``` or ``#### `building_info.structure_types```).
Compact tables such as §6.8 (``| table | columns ... | notes |``) are not column
tables and are skipped.

Standard library only.
"""

import re
from pathlib import Path

_HEADER = re.compile(
    r"^\|\s*#\s*\|\s*column\s*\|\s*type\s*\|\s*null\s*\|\s*key / default\s*\|\s*notes\s*\|\s*$"
)
_SEPARATOR = re.compile(r"^\|(\s*:?-+:?\s*\|)+\s*$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_QUALIFIED = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)`")
_PARTIAL = re.compile(r"reference columns|only the columns", re.IGNORECASE)
# Split a Markdown table row on pipes that are not escaped (notes contain "\|").
_CELL_SPLIT = re.compile(r"(?<!\\)\|")


class DocFormatError(ValueError):
    """DATABASE.md does not have the layout the parser expects."""


def _cells(line):
    parts = _CELL_SPLIT.split(line.strip())
    # a row starts and ends with "|": drop the empty first and last parts
    return [p.strip() for p in parts[1:-1]]


def _unquote(cell):
    cell = cell.strip()
    if len(cell) >= 2 and cell.startswith("`") and cell.endswith("`"):
        cell = cell[1:-1]
    return cell.strip()


def _parse(path):
    """Yield (qualified_name, partial, columns, line_number) per column table."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    heading = None          # text of the nearest heading above
    heading_line = 0
    prose = []              # text between that heading and the current line
    in_code = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith("```"):
            in_code = not in_code
            i += 1
            continue
        if in_code:
            i += 1
            continue
        m = _HEADING.match(line)
        if m:
            heading, heading_line, prose = m.group(2), i + 1, []
            i += 1
            continue
        if not _HEADER.match(line.strip()):
            prose.append(line)
            i += 1
            continue

        # a column table starts here
        if heading is None:
            raise DocFormatError(f"line {i + 1}: column table before any heading")
        names = _QUALIFIED.findall(heading)
        if not names:
            raise DocFormatError(
                f"line {i + 1}: nearest heading (line {heading_line}) names no "
                f"`schema.table`: {heading!r}"
            )
        qualified = "%s.%s" % names[-1]
        partial = bool(_PARTIAL.search(heading) or _PARTIAL.search("\n".join(prose)))
        start = i + 1
        i += 1
        if i < len(lines) and _SEPARATOR.match(lines[i].strip()):
            i += 1
        columns = []
        while i < len(lines) and lines[i].strip().startswith("|"):
            cells = _cells(lines[i])
            if len(cells) < 4:
                raise DocFormatError(f"line {i + 1}: short row in table {qualified}")
            number, column, typ, null = cells[0], _unquote(cells[1]), _unquote(cells[2]), cells[3]
            if not number.isdigit() or int(number) != len(columns) + 1:
                raise DocFormatError(
                    f"line {i + 1}: table {qualified}: expected row #{len(columns) + 1}, got {number!r}"
                )
            null_norm = null.strip("`* ").upper()
            if null_norm == "NOT NULL":
                nullable = False
            elif null_norm == "NULL":
                nullable = True
            else:
                raise DocFormatError(
                    f"line {i + 1}: table {qualified}, column {column}: null cell {null!r}"
                )
            columns.append((column, typ, nullable))
            i += 1
        if not columns:
            raise DocFormatError(f"line {start}: table {qualified} has no rows")
        yield qualified, partial, columns, start
        prose = []


def documented_tables(path):
    """Return ``{"schema.table": [(column, type, nullable), ...]}`` in document order.

    Types are as written in the document (``character varying(254)``,
    ``geometry(MultiPolygon,4326)``, ``timestamp(0) without time zone``...);
    ``nullable`` is False for "NOT NULL", True for "null".
    """
    result = {}
    for qualified, _partial, columns, line in _parse(path):
        if qualified in result:
            raise DocFormatError(f"line {line}: table {qualified} documented twice")
        result[qualified] = columns
    return result


def partially_documented_tables(path):
    """Qualified names of column tables that list only some columns of the table.

    Detected from the heading or the prose before the table ("reference columns",
    "Only the columns ..."), e.g. ``auth.users`` in §9. For those, the documented
    columns must exist in that relative order, but the table may have more.
    """
    return {q for q, partial, _c, _l in _parse(path) if partial}


def shared_imis_dir(start):
    """The `shared/imis` folder beside the repository (CI: ../shared; a git worktree may sit deeper).

    IMIS_SHARED_DIR overrides the search.
    """
    import os
    from pathlib import Path

    override = os.environ.get("IMIS_SHARED_DIR")
    if override:
        return Path(override)
    for parent in Path(start).resolve().parents:
        candidate = parent / "shared" / "imis"
        if (candidate / "DATABASE.md").exists():
            return candidate
    raise FileNotFoundError(f"shared/imis/DATABASE.md not found beside {start} or above it (set IMIS_SHARED_DIR)")
