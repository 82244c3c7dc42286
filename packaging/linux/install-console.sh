#!/bin/sh
# Install Frontdesk's console from this unpacked bundle, with its menu entry and icon.
#
#   ./install.sh                  for you: ~/.local/lib/frontdesk-console, ~/.local/bin, ~/.local/share
#   sudo ./install.sh /usr/local  for everyone on this computer
#
# Uninstall: rm -r PREFIX/lib/frontdesk-console PREFIX/bin/frontdesk-console \
#   PREFIX/share/applications/org.frontdesk.Console.desktop PREFIX/share/metainfo/org.frontdesk.Console.metainfo.xml \
#   PREFIX/share/icons/hicolor/*/apps/org.frontdesk.Console.*
set -eu

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
prefix=${1:-"$HOME/.local"}
app="$prefix/lib/frontdesk-console"

if [ "$here" != "$app" ]; then
    rm -rf "$app"
    mkdir -p "$app"
    cp -R "$here/." "$app/"
fi
mkdir -p "$prefix/bin" "$prefix/share"
ln -sf "$app/frontdesk-console" "$prefix/bin/frontdesk-console"
cp -R "$here/share/." "$prefix/share/"
# The menu entry starts the program by its full path, whether or not PREFIX/bin is on PATH.
sed -i "s|^Exec=frontdesk-console|Exec=$app/frontdesk-console|" "$prefix/share/applications/org.frontdesk.Console.desktop"

if command -v update-desktop-database >/dev/null 2>&1; then
    update-desktop-database -q "$prefix/share/applications" || true
fi
if command -v gtk-update-icon-cache >/dev/null 2>&1 && [ -f "$prefix/share/icons/hicolor/index.theme" ]; then
    gtk-update-icon-cache -q -t "$prefix/share/icons/hicolor" || true
fi
echo "Installed $prefix/bin/frontdesk-console; \"Frontdesk\" is in the applications menu."
