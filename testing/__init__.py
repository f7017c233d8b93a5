"""What tests and the offline demo share: loopback fakes of the provider wire formats."""
