"""Signed packages end to end: a real device runtime, real TLS gRPC on 127.0.0.1, real clients.

The device installs only packages signed by the key of a client it is paired
with; unsigned, tampered and foreign packages are refused with
PERMISSION_DENIED before anything is staged, and the running version runs on.
"""

from __future__ import annotations

import logging
import time

import pytest

from console_app.core.gateways.device_client import DeviceCallError, DeviceClient, pair
from console_app.core.gateways.device_tls import certificate_fingerprint
from console_app.core.signing import PackageSigner
from device_runtime.security.package_signing import UNSIGNED_MESSAGE, UNTRUSTED_MESSAGE
from tests.integration.conftest import detector_manifest, next_preview, start_device


def staged_files(device) -> list:
    return [p for p in device.supervisor.packages.staging_dir.rglob("*") if p.is_file()]


def assert_refused(err: pytest.ExceptionInfo, message: str) -> None:
    assert err.value.code == "PERMISSION_DENIED", err.value
    assert err.value.message.startswith(message), err.value.message


def test_a_signed_package_is_installed_and_the_device_logs_which_key_signed_it(client, make_package, signer, caplog):
    with caplog.at_level(logging.INFO, logger="device_runtime.supervisor"):
        status = client.deploy(make_package(detector_manifest()))
    assert (status.app_id, status.version, status.state) == ("widgets", "1.0.0", "running")
    assert f"signed by trusted console key {signer.fingerprint()[:16]}" in caplog.text


def test_an_unsigned_package_is_refused_with_the_advice_to_pair_again(device, credentials, make_package):
    with DeviceClient("127.0.0.1", device.port, credentials) as unsigned_client:  # no signer
        with pytest.raises(DeviceCallError) as err:
            unsigned_client.deploy(make_package(detector_manifest()))
        assert_refused(err, UNSIGNED_MESSAGE)
        assert unsigned_client.list_apps() == []
    assert staged_files(device) == []


def test_a_package_changed_after_signing_is_refused_and_the_running_version_keeps_running(
    device, client, make_package, signer
):
    client.deploy(make_package(detector_manifest(version="1.0.0")))
    genuine = make_package(detector_manifest(version="1.1.0"))
    signature = signer.sign_bytes(genuine)
    swapped = make_package(detector_manifest(version="1.1.0", camera_url="test://pattern?width=64&height=48&fps=5"))
    flipped = bytearray(genuine)
    flipped[len(flipped) // 2] ^= 0x01

    for tampered in (swapped, bytes(flipped)):
        with pytest.raises(DeviceCallError) as err:
            client.deploy(tampered, signature=signature)
        assert_refused(err, UNTRUSTED_MESSAGE)

    [app] = client.list_apps()
    assert (app.version, app.state, list(app.versions)) == ("1.0.0", "running", ["1.0.0"])
    assert next_preview(client, "cam-1", after=time.time()).detections, "the running version stopped inferring"
    assert staged_files(device) == []
    # The genuine bytes with their signature still go in.
    assert client.deploy(genuine, signature=signature).version == "1.1.0"


def test_a_package_signed_by_a_console_that_never_paired_is_refused(client, make_package):
    package = make_package(detector_manifest())
    stranger = PackageSigner.generate()
    with pytest.raises(DeviceCallError) as err:
        client.deploy(package, signature=stranger.sign_bytes(package))
    assert_refused(err, UNTRUSTED_MESSAGE)
    assert client.list_apps() == []


def test_a_package_signed_by_a_console_paired_only_with_another_device_is_refused(
    tmp_path, device, credentials, make_package
):
    other_console = PackageSigner.generate()
    other_device = start_device(tmp_path / "other-device")
    try:
        other_creds = pair("127.0.0.1", other_device.port, other_device.pairing.current_code(), "other console",
                           signer=other_console)
        with DeviceClient("127.0.0.1", other_device.port, other_creds, signer=other_console) as there:
            assert there.deploy(make_package(detector_manifest())).state == "running"
    finally:
        other_device.stop()

    # Our paired channel to the first device, carrying the other console's signature.
    with DeviceClient("127.0.0.1", device.port, credentials, signer=other_console) as here:
        with pytest.raises(DeviceCallError) as err:
            here.deploy(make_package(detector_manifest()))
        assert_refused(err, UNTRUSTED_MESSAGE)
        assert here.list_apps() == []


def test_any_paired_clients_key_is_trusted_until_that_client_is_revoked(device, make_package):
    builder, operator = PackageSigner.generate(), PackageSigner.generate()
    builder_creds = pair("127.0.0.1", device.port, device.pairing.current_code(), "builder", signer=builder)
    operator_creds = pair("127.0.0.1", device.port, device.pairing.current_code(), "operator", signer=operator)
    first = make_package(detector_manifest(version="1.0.0"))
    second = make_package(detector_manifest(version="1.1.0"))

    with DeviceClient("127.0.0.1", device.port, operator_creds) as operator_client:
        # Built and signed on the builder's console, deployed by the operator.
        assert operator_client.deploy(first, signature=builder.sign_bytes(first)).version == "1.0.0"

        device.pairing.revoke(certificate_fingerprint(builder_creds.client_cert_pem))

        with pytest.raises(DeviceCallError) as err:
            operator_client.deploy(second, signature=builder.sign_bytes(second))
        assert_refused(err, UNTRUSTED_MESSAGE)
        assert operator_client.list_apps()[0].version == "1.0.0"
        assert operator_client.deploy(second, signature=operator.sign_bytes(second)).version == "1.1.0"


def test_a_client_paired_without_a_signing_key_cannot_deploy(device, make_package):
    """A console from before signed packages: paired, but the device knows no key of its."""
    old_creds = pair("127.0.0.1", device.port, device.pairing.current_code(), "old console")
    signer = PackageSigner.generate()
    with DeviceClient("127.0.0.1", device.port, old_creds, signer=signer) as old_client:
        assert old_client.info().caller_paired
        with pytest.raises(DeviceCallError) as err:
            old_client.deploy(make_package(detector_manifest()))
    assert_refused(err, UNTRUSTED_MESSAGE)
    assert "must pair again" in err.value.message


def test_with_require_signed_packages_off_an_unsigned_package_is_installed_with_a_warning(
    tmp_path, make_package, caplog
):
    bench = start_device(tmp_path / "bench", require_signed_packages=False)
    try:
        creds = pair("127.0.0.1", bench.port, bench.pairing.current_code(), "bench")
        with DeviceClient("127.0.0.1", bench.port, creds) as unsigned_client:
            with caplog.at_level(logging.WARNING, logger="device_runtime.supervisor"):
                assert unsigned_client.deploy(make_package(detector_manifest())).state == "running"
    finally:
        bench.stop()
    assert "without checking its signature: require_signed_packages is off" in caplog.text
