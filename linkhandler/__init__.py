"""linkhandler"""
