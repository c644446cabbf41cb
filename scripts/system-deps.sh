#!/usr/bin/env bash
# Make sure the Debian packages a target needs are installed.
#   scripts/system-deps.sh demo|test
# As root: installs what is missing with apt-get. Otherwise: prints the one
# apt-get line to run and exits 1, so `make` stops with a clear message.
set -euo pipefail

base=(python3 python3-venv python3-dev gcc)
# Qt offscreen and OpenCV-headless runtime libraries.
qt=(libglib2.0-0 libegl1 libgl1 libxkbcommon0 libfontconfig1 libdbus-1-3 fonts-dejavu-core)
# A real window (make demo on a desktop): the libraries Qt's xcb platform plugin loads.
xcb=(libxcb1 libx11-6 libx11-xcb1 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0
     libxcb-render0 libxcb-render-util0 libxcb-shape0 libxcb-shm0 libxcb-sync1 libxcb-xfixes0 libxcb-xkb1
     libxcb-glx0 libxcb-util1 libxkbcommon-x11-0 libglx0 libglvnd0 libfreetype6)
# The device's GStreamer camera backend (system PyGObject, typelibs, RTSP client, decoders).
gst=(python3-gi gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0 gstreamer1.0-plugins-base
     gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-libav)
# Real peers the tests start: GStreamer's RTSP server (system Python bindings),
# ffmpeg to make test media, PostgreSQL, Avahi with a private D-Bus; dosfstools and mtools
# for the FAT32 USB-stick image of the provisioning tests (systemd brings systemd-networkd);
# Mosquitto (MQTT outputs) and Prometheus (scrapes the device's /metrics).
peers=(python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good
       gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav ffmpeg
       postgresql avahi-daemon avahi-utils dbus iproute2 mosquitto prometheus
       systemd desktop-file-utils dosfstools mtools)

case "${1:-test}" in
  demo) wanted=("${base[@]}" "${qt[@]}" "${xcb[@]}") ;;
  test) wanted=("${base[@]}" "${qt[@]}" "${gst[@]}" "${peers[@]}") ;;
  *) echo "usage: $0 demo|test" >&2; exit 2 ;;
esac

missing=()
for pkg in "${wanted[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -eq 0 ]]; then
  echo "Installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts these services on install; the tests start their own copies.
  for svc in postgresql avahi-daemon mosquitto prometheus; do
    (command -v systemctl >/dev/null && systemctl stop "$svc") >/dev/null 2>&1 || true
  done
else
  echo "Sightline needs these Debian packages. Run, then try again:" >&2
  echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
