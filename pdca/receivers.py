"""What pdca does when the apps below it announce something (connected in PdcaConfig.ready)."""
