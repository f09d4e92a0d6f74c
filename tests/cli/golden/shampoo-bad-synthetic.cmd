shampoo --synthetic a3
