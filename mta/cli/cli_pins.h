/*
 * cli_pins.h - pinpost pins: declarations shared by its two files.
 *
 *	cli_pins_open()		open the store; prints the error on failure
 *	cli_pins_export()	pins export [FILE]	(cli_pins_json.c)
 *	cli_pins_import()	pins import [FILE]	(cli_pins_json.c)
 */
#ifndef CLI_PINS_H
#define CLI_PINS_H

#include <stdint.h>

struct cli;
struct stsec_store;

struct stsec_store *cli_pins_open(const struct cli *cli, int flags);
int	cli_pins_export(struct cli *cli, int argc, char **argv);
int	cli_pins_import(struct cli *cli, int argc, char **argv);

#endif
