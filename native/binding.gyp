{
  "targets": [
    {
      "target_name": "fastscan",
      "sources": ["fastscan.c", "fastcopy.c", "fileops.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
