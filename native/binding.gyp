{
  "targets": [
    {
      "target_name": "fastscan",
      "sources": ["fastscan.c", "fastcopy.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
