from fercnn.cli import main

main()
