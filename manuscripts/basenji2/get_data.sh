#!/usr/bin/env bash
# Download the Basenji2 test TFRecords (the bucket is requester-pays: set GCP_PROJECT to a
# Google Cloud project you can bill). Pass ALL=1 to fetch train/valid too (~319 GB).
set -euo pipefail
: "${GCP_PROJECT:?set GCP_PROJECT to a billable Google Cloud project}"
for species in human mouse; do
  mkdir -p "data/${species}/tfrecords"
  gsutil -u "$GCP_PROJECT" cp \
    "gs://basenji_barnyard/data/${species}/statistics.json" \
    "gs://basenji_barnyard/data/${species}/sequences.bed" \
    "data/${species}/"
  pattern=${ALL:+*}
  gsutil -u "$GCP_PROJECT" -m cp \
    "gs://basenji_barnyard/data/${species}/tfrecords/${pattern:-test}-*.tfr" \
    "data/${species}/tfrecords/"
done
cp ../../tests/data/reference/basenji_published/cross2020_targets_human.txt data/human/targets.txt
cp ../../tests/data/reference/basenji_published/cross2020_targets_mouse.txt data/mouse/targets.txt
