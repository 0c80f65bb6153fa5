#!/bin/sh
# Stands in for a Bark TTS service: it loads (here: writes) its weights where suno-ai/bark puts them,
# $XDG_CACHE_HOME/suno/bark_v0, and its tokenizer into the Hugging Face hub cache, then reports.
set -e
bark_dir="${XDG_CACHE_HOME:?}/suno/bark_v0"
hub="${HF_HUB_CACHE:-${HF_HOME:?}/hub}"
printf 'fake weights' > "$bark_dir/text_2.pt"
mkdir -p "$hub/models--suno--bark/snapshots/main"
printf '{}' > "$hub/models--suno--bark/snapshots/main/config.json"
printf '{"service":"bark","event":"bark.model_loaded","pid":%s,"uid":%s,"gid":%s,"home":"%s","weights":"%s","transformers_cache":"%s"}\n' \
  "$$" "$(id -u)" "$(id -g)" "$HOME" "$bark_dir/text_2.pt" "${TRANSFORMERS_CACHE:-<unset>}"
