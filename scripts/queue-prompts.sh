#!/usr/bin/env bash
# Generates the queue announcements into fixtures/prompts with espeak-ng
# (8 kHz mono 16-bit WAV, as pbx's media endpoints play them):
# queue_position ("You are caller number"), queue_wait ("Your estimated wait
# is about"), queue_minutes ("minutes"), queue_callback, and the numbers
# n0 … n20. Run again to change the voice; the files are committed.
set -euo pipefail
cd "$(dirname "$0")/../fixtures/prompts"
say() { # name, text
    espeak-ng -v en-us -s 150 -w "/tmp/pbx-prompt-$1.wav" "$2"
    sox "/tmp/pbx-prompt-$1.wav" -r 8000 -c 1 -b 16 "$1.wav"
    rm -f "/tmp/pbx-prompt-$1.wav"
}
say queue_position "You are caller number"
say queue_wait "Your estimated wait is about"
say queue_minutes "minutes."
say queue_callback "To be called back without losing your place, press one."
words=(zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen
       fifteen sixteen seventeen eighteen nineteen twenty)
for i in "${!words[@]}"; do say "n$i" "${words[$i]}"; done
