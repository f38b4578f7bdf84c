#!/usr/bin/env bash
# Fetch the corpora of the published VoiceBank+DEMAND experiment into ./voicebank and ./DEMAND,
# laid out as the config files expect. Safe to run again: finished parts are skipped and
# interrupted downloads continue where they stopped.
set -euo pipefail

VOICEBANK_URL=https://datashare.ed.ac.uk/bitstream/handle/10283/2791
DEMAND_URL=https://zenodo.org/record/1227121/files
ENVIRONMENTS=(DKITCHEN DLIVING DWASHING NFIELD NRIVER OHALLWAY OOFFICE STRAFFIC TCAR)
PARTS=downloads

fail() { echo "download.sh: $*" >&2; exit 1; }
trap 'echo "download.sh: stopped at line $LINENO (see the message above); run it again to resume" >&2' ERR
count() { { find "$1" -maxdepth 1 -name "$2" 2>/dev/null || true; } | wc -l; }  # 0 for a missing folder

command -v curl >/dev/null || fail "curl is needed"
command -v unzip >/dev/null || fail "unzip is needed (e.g. apt-get install unzip)"
mkdir -p "$PARTS"

fetch() {  # fetch URL FILE: resumable download; FILE.done marks a finished one
    [ -f "$2.done" ] && return
    curl --fail --location --retry 3 --continue-at - --output "$2" "$1" \
        || fail "could not download $1 (offline, or the server moved it?); run again to resume"
    touch "$2.done"
}

unpack() {  # unpack ZIP DIR WANT SUBDIR PATTERN: unzip ZIP into DIR unless DIR/SUBDIR has WANT files
    local zip=$1 dir=$2 want=$3 sub=$4 pattern=$5
    if [ "$(count "$dir/$sub" "$pattern")" -eq "$want" ]; then return; fi
    unzip -q -o "$zip" -d "$dir" || { rm -f "$zip.done"; fail "$zip is damaged: delete it and run again"; }
}

mkdir -p voicebank
for part in clean_trainset_28spk_wav:clean_trainset_wav:11572 clean_testset_wav:clean_testset_wav:824; do
    IFS=: read -r zip_name dir_name want <<<"$part"
    if [ "$(count "voicebank/$dir_name" '*.wav')" -ne "$want" ]; then
        fetch "$VOICEBANK_URL/$zip_name.zip" "$PARTS/$zip_name.zip"
        unpack "$PARTS/$zip_name.zip" voicebank "$want" "$dir_name" '*.wav'
        if [ "$zip_name" != "$dir_name" ] && [ -d "voicebank/$zip_name" ]; then
            rm -rf "voicebank/$dir_name"
            mv "voicebank/$zip_name" "voicebank/$dir_name"
        fi
    fi
    found=$(count "voicebank/$dir_name" '*.wav')
    [ "$found" -eq "$want" ] || fail "voicebank/$dir_name has $found files, expected $want"
done

mkdir -p DEMAND
for env in "${ENVIRONMENTS[@]}"; do
    if [ "$(count "DEMAND/$env" 'ch*.wav')" -ne 16 ]; then
        fetch "$DEMAND_URL/${env}_16k.zip" "$PARTS/${env}_16k.zip"
        unpack "$PARTS/${env}_16k.zip" DEMAND 16 "$env" 'ch*.wav'
    fi
done
found=$(find DEMAND -name 'ch*.wav' | wc -l)
[ "$found" -eq 144 ] || fail "DEMAND has $found noise files, expected 144"

echo "voicebank/: 11572 + 824 speech files, DEMAND/: 144 noise files. Downloads in $PARTS/ can be deleted."
