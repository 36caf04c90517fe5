#!/bin/sh
# Turn a text file into a C string constant: conf_default_text[].
# Used at build time so the default config ships inside the binary.
echo '/* Generated from conf/iaproxy.conf by conf/embed.sh; do not edit. */'
echo '#include "conf.h"'
echo 'const char conf_default_text[] ='
sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$/\\n"/' "$1"
echo ';'
