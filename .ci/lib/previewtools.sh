# External programs of package preview: poppler's pdftoppm (PDF first
# pages), ffmpeg (video poster frames, and the test videos) and libvips'
# vipsthumbnail (the reference of the thumbnail benchmark). Nothing to
# start and no variable to export: the tests find the programs on PATH, and
# fail rather than skip when one is missing under ATTACH_REQUIRE_BACKENDS.

start_previewtools() {
  local missing=() tool
  for tool in pdftoppm ffmpeg vipsthumbnail; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    ci_apt poppler-utils ffmpeg libvips-tools
  fi
  for tool in pdftoppm ffmpeg vipsthumbnail; do
    command -v "$tool" >/dev/null 2>&1 || { echo "$tool is not on PATH after installing" >&2; return 1; }
  done
  echo "pdftoppm $(pdftoppm -v 2>&1 | head -n1 | awk '{print $3}'), $(ffmpeg -hide_banner -version | head -n1 | awk '{print $1, $3}'), $(vipsthumbnail --vips-version 2>&1 | head -n1)"
}
