# MinIO, the S3-compatible server the s3:// storage tests run against.
# Sourced by .ci/run after common.sh; start_minio exports
#   ATTACH_S3_URL          s3://attachkit?endpoint=...&region=us-east-1&use_path_style=true
#   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION   (read by the AWS SDK)

CI_MINIO_MODULE=github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c

start_minio() {
  ci_go_install "$CI_MINIO_MODULE" minio
  local port console user=attachkit-ci secret pid
  port=$(ci_free_port)
  console=$(ci_free_port)
  secret=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
  mkdir -p "$CI_TMP/minio"
  # A built-in KMS key lets tests store SSE-KMS objects, whose ETag is no MD5.
  MINIO_ROOT_USER=$user MINIO_ROOT_PASSWORD=$secret MINIO_BROWSER=off MINIO_UPDATE=off \
    MINIO_KMS_SECRET_KEY="attachkit-ci:$(head -c 32 /dev/urandom | base64)" \
    "$CI_CACHE/bin/minio" server --quiet --address "127.0.0.1:$port" --console-address "127.0.0.1:$console" \
    "$CI_TMP/minio/data" >"$CI_TMP/minio.log" 2>&1 </dev/null &
  pid=$!
  ci_track "$pid"
  ci_wait_http "http://127.0.0.1:$port/minio/health/ready" 60 minio "$pid"

  # The bucket ATTACH_S3_URL names; tests create their own fresh buckets too.
  curl -fsS -X PUT --user "$user:$secret" --aws-sigv4 "aws:amz:us-east-1:s3" \
    -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
    "http://127.0.0.1:$port/attachkit" >/dev/null

  export AWS_ACCESS_KEY_ID=$user AWS_SECRET_ACCESS_KEY=$secret AWS_REGION=us-east-1
  export ATTACH_S3_URL="s3://attachkit?endpoint=http://127.0.0.1:$port&region=us-east-1&use_path_style=true"
  echo "minio on 127.0.0.1:$port"
}
