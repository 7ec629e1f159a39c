"""`import gpdface` stays cheap: checked in a fresh interpreter."""

import json
import subprocess
import sys

HEAVY = ["facexlib", "typer", "gpdface.train", "torch", "huggingface_hub", "cv2"]


def loaded_after(code: str) -> dict:
    probe = f"import sys, json\n{code}\nprint(json.dumps({{m: m in sys.modules for m in {HEAVY!r}}}))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_import_gpdface_is_cheap():
    assert loaded_after("import gpdface") == dict.fromkeys(HEAVY, False)


def test_translator_import_leaves_out_facexlib_typer_and_training():
    loaded = loaded_after("from gpdface import Translator")
    assert loaded["torch"]  # the Translator needs it, of course
    assert not loaded["facexlib"] and not loaded["typer"] and not loaded["gpdface.train"]


def test_cli_module_does_not_import_torch():
    loaded = loaded_after("import gpdface.cli")
    assert loaded["typer"] and not loaded["torch"] and not loaded["facexlib"]


def test_public_api():
    import gpdface

    assert {"Translator", "list_styles", "load_style", "__version__"} <= set(gpdface.__all__)
    for name in gpdface.__all__:
        assert getattr(gpdface, name) is not None


def test_errors_are_also_the_matching_built_in_errors():
    from gpdface.errors import ChecksumError, OfflineError, OutputError, ShapeError, StyleNotFoundError

    assert issubclass(StyleNotFoundError, LookupError) and issubclass(ChecksumError, ValueError)
    assert issubclass(OfflineError, ConnectionError) and issubclass(OutputError, OSError)
    assert issubclass(ShapeError, ValueError)
    error = ChecksumError("f", "a" * 64, "b" * 64)
    assert str(error).startswith("checksum mismatch for f")
