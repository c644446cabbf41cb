"""The console's PyInstaller spec and its lists (installer/console/): checked without building.

The real build runs in `make package` and .ci/run (minutes); these check
that what the spec asks for exists and that the exclusions keep what the
console needs.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

from .conftest import INSTALLER, ROOT

SPEC = INSTALLER / "console" / "sightline-console.spec"


def test_spec_parses_and_builds_one_folder_from_the_shared_lists():
    tree = ast.parse(SPEC.read_text(encoding="utf-8"), filename=str(SPEC))
    calls = {node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    assert {"Analysis", "PYZ", "EXE", "COLLECT"} <= calls
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                and node.module == "bundle_contents" for alias in node.names}
    assert {"console_datas", "HIDDEN_IMPORTS", "EXCLUDES", "is_left_out", "BUNDLE_NAME"} <= imported
    exe_call = next(node for node in ast.walk(tree) if isinstance(node, ast.Call)
                    and getattr(node.func, "id", None) == "EXE")
    keywords = {kw.arg: kw.value for kw in exe_call.keywords}
    assert isinstance(keywords["exclude_binaries"], ast.Constant) and keywords["exclude_binaries"].value is True, \
        "a one-folder build keeps the binaries out of the executable"


def test_every_listed_data_file_exists(bundle_contents):
    datas = bundle_contents.console_datas()
    missing = [source for source, _ in datas if not Path(source).exists()]
    assert not missing, f"the spec lists data that does not exist: {missing}"
    assert all(not Path(dest).is_absolute() for _, dest in datas)
    assert bundle_contents.ENTRY_SCRIPT.is_file()


def test_every_resource_and_migration_script_is_bundled_where_the_code_looks(bundle_contents):
    datas = {(Path(source).resolve(), dest) for source, dest in bundle_contents.console_datas()}
    for folder, patterns in ((ROOT / "resources", ("icons/*.svg", "models/*.onnx", "models/*.labels",
                                                   "apps/*/app.json")),
                             (ROOT / bundle_contents.MIGRATIONS, ("*.py", "versions/*.py", "script.py.mako"))):
        for pattern in patterns:
            files = sorted(folder.glob(pattern))
            assert files, f"nothing matches {folder}/{pattern}"
            for path in files:
                dest = path.parent.relative_to(ROOT).as_posix()
                assert (path.resolve(), dest) in datas, f"{path.relative_to(ROOT)} is not bundled into {dest}/"


def test_onvif_wsdls_land_where_the_onvif_client_looks_for_them(bundle_contents):
    from console_app.core.gateways import onvif_client

    wsdl = bundle_contents.onvif_wsdl_dir()
    assert (str(wsdl), "wsdl") in bundle_contents.console_datas()
    # The client looks in dirname(onvif)/../wsdl: from source that is this folder, and in
    # the bundle (onvif at <bundle>/onvif/) it is <bundle>/wsdl, the destination above.
    assert Path(onvif_client.WSDL_DIR).resolve() == wsdl


def test_hidden_imports_name_modules_that_exist(bundle_contents):
    missing = [name for name in bundle_contents.HIDDEN_IMPORTS if importlib.util.find_spec(name) is None]
    assert not missing, f"hidden imports that do not exist: {missing}"


def test_excluded_modules_are_none_the_console_imports(bundle_contents):
    imported = set()
    for path in (ROOT / "console_app").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module)
                imported.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    clash = sorted(name for name in bundle_contents.EXCLUDES
                   if any(module == name or module.startswith(name + ".") for module in imported))
    assert not clash, f"the spec excludes modules console_app imports: {clash}"


def test_left_out_drops_gpu_providers_and_unused_aws_models_but_keeps_what_the_console_runs(bundle_contents):
    left_out = bundle_contents.is_left_out
    for dropped in ("onnxruntime/capi/libonnxruntime_providers_cuda.so",
                    "onnxruntime/capi/libonnxruntime_providers_tensorrt.so",
                    "onnxruntime\\capi\\onnxruntime_providers_cuda.dll",
                    "botocore/data/ec2/2016-11-15/service-2.json.gz",
                    "PySide6/Qt/plugins/platformthemes/libqgtk3.so",
                    "PySide6/Qt/translations/qtbase_de.qm", "libgtk-3.so.0"):
        assert left_out(dropped), dropped
    for kept in ("onnxruntime/capi/libonnxruntime.so.1.31.1",
                 "onnxruntime/capi/libonnxruntime_providers_shared.so",
                 "onnxruntime/capi/onnxruntime_pybind11_state.cpython-311-x86_64-linux-gnu.so",
                 "opencv_python_headless.libs/libavcodec-c4204469.so.62.28.101", "cv2/cv2.abi3.so",
                 "botocore/data/s3/2006-03-01/service-2.json.gz", "botocore/data/endpoints.json",
                 "botocore/data/sagemaker/2017-07-24/service-2.json.gz",
                 "PySide6/Qt/lib/libQt6Gui.so.6", "PySide6/Qt/lib/libQt6OpenGL.so.6",
                 "PySide6/Qt/plugins/platforms/libqoffscreen.so", "PySide6/Qt/plugins/platforms/libqxcb.so",
                 "PySide6/Qt/plugins/imageformats/libqsvg.so", "PySide6/Qt/plugins/iconengines/libqsvgicon.so"):
        assert not left_out(kept), kept


def test_the_model_library_uses_only_the_aws_services_the_bundle_keeps(bundle_contents):
    sources = ROOT / "console_app" / "core" / "gateways" / "model_sources.py"
    used = set(re.findall(r"""_client\(\s*["']([a-z0-9-]+)["']""", sources.read_text(encoding="utf-8")))
    assert used, "expected model_sources.py to create boto3 clients with _client('<service>', ...)"
    assert used <= bundle_contents.BOTOCORE_SERVICES_KEPT, used - bundle_contents.BOTOCORE_SERVICES_KEPT
