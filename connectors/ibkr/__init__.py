"""Interactive Brokers: Activity Statement CSV and Flex Query XML imports."""
