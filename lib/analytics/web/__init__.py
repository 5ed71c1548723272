"""The web app: Voilà with our start page, downloads, preheated kernels and kernels that do not outlive their visitors."""
