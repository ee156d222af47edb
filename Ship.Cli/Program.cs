// The main job: the hardware-aware study (see Ship.Cli.ShipCli and `ship --help`).
return Ship.Cli.ShipCli.Run(args);
