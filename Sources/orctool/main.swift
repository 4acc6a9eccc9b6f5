import OrcToolCLI

OrcToolMain.main()
