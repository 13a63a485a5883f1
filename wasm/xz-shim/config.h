/*
 * liblzma's configure results are the -D flags of XZ_FLAGS in wasm/build.mjs;
 * this file is empty on purpose. It exists because the range coder's headers
 * include liblzma's common.h (and so <stdint.h>) only when HAVE_CONFIG_H is
 * defined, which the encoder's price_table.c needs; sysdefs.h then includes
 * this file.
 */
