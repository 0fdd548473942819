"""What ``npm pack`` would publish of typescript/: the built JS and its declarations, the README,
the LICENSE and package.json, and nothing else (no tests, no TypeScript sources, no source maps,
which would carry the sources along)."""

from __future__ import annotations

import json
import re

from tests.typescript.node import TYPESCRIPT, npm, skip_unless_installed

skip_unless_installed()


def _packed() -> list[str]:
    done = npm("pack", "--dry-run", "--json", timeout=300)  # prepack builds dist/ first
    assert done.returncode == 0, done.stderr
    # npm prints the prepack script's output before the JSON on some versions: read from the "[".
    report = json.loads(done.stdout[done.stdout.index("[") :])
    return sorted(entry["path"] for entry in report[0]["files"])


def test_the_package_holds_the_bundle_its_types_readme_license_and_nothing_else() -> None:
    files = _packed()
    assert {
        "package.json",
        "README.md",
        "LICENSE",
        "dist/index.js",
        "dist/index.d.ts",
        "dist/node.js",
        "dist/node.d.ts",
    } <= set(files)
    unexpected = [
        name
        for name in files
        if name not in ("package.json", "README.md", "LICENSE")
        and not re.fullmatch(r"dist/[\w/]+\.(js|d\.ts)", name)
    ]
    assert unexpected == []
    # Every module ships with its declarations.
    modules = {name[: -len(".js")] for name in files if name.endswith(".js")}
    assert modules == {name[: -len(".d.ts")] for name in files if name.endswith(".d.ts")}
    sources = {
        str(p.relative_to(TYPESCRIPT / "src").with_suffix("")) for p in (TYPESCRIPT / "src").rglob("*.ts")
    }
    assert modules == {f"dist/{name}" for name in sources}


def test_the_license_is_the_one_package_json_names() -> None:
    manifest = json.loads((TYPESCRIPT / "package.json").read_text())
    assert manifest["license"] == "MIT"
    assert "LICENSE" in manifest["files"]
    assert (TYPESCRIPT / "LICENSE").read_text().startswith("MIT License\n")
