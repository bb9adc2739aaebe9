"""Reading JSON files a user hands vcm (results, ground truth, records), with one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from vcm.errors import VcmError
from vcm.fileio import input_file


def load_json(path: Path, *, what: str = "") -> object:
    """Parse the JSON file at ``path``.

    A missing file, bytes that are not UTF-8, invalid JSON, nesting deeper than Python's
    recursion allows, or an integer too long to convert raise :class:`VcmError` naming ``path``
    (and saying "malformed ``what``" when ``what`` names the kind of record).
    """
    path = input_file(path)
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except UnicodeDecodeError as error:
        raise VcmError(f"{path}: not UTF-8 text (byte {error.start}: {error.reason})") from None
    except RecursionError:
        # The json module parses nested lists and objects recursively.
        problem = "JSON nested too deeply"
    except ValueError as error:
        # JSONDecodeError, or an integer past Python's digit limit for str -> int.
        problem = f"not valid JSON: {error}"
    raise VcmError(f"{path}: malformed {what} ({problem})" if what else f"{path}: {problem}")
