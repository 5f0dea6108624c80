"""Road networks: OpenStreetMap files or downloads turned into routable graphs, and routing on them.

Modules:

``osm``
    Read the ways of a travel mode and their nodes from an OSM file.
``graph``
    Build the graph with OSMnx's construction, keep its pieces, add speeds and times.
``cache``
    Keep processed graphs on disk as compact arrays.
``download``
    Download a network by place or box through OSMnx; fail fast when offline.
``load``
    Load a network from a file or the demo through the disk cache.
``sources``
    Name a network source in one string (demo, file, place, box) and load it.
``extent``
    The area an extract declares (PBF header box, ``<bounds>``, download box).
``routing``
    Snap points to the network and compute travel times (`Router`).
``pieces``
    The travel-time matrix of a graph, its pieces and their cores.
``stores``
    Where stores stand on the network (`Placement`) and their travel times (`StoreTimes`).
``coverage``
    How much of a workspace's stores and customers a network covers.
"""
