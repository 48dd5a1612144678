"""Local stand-ins for services this machine cannot reach, speaking their real wire protocols."""
